package stacks_test

import (
	"slices"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

// The backtoorigin command reads the key rules from the stack's outputs, so
// a backfill never queues a key the transfer function would acknowledge
// unread: the outputs must say exactly what the function's environment says.
func TestTheOutputsCarryTheTransferFunctionsKeyRules(t *testing.T) {
	for _, tc := range []struct {
		name             string
		context          map[string]string
		include, exclude []string
	}{
		{"rules", map[string]string{"includePrefixes": "img/,video/", "excludeSuffixes": `[".tmp"]`}, []string{"img/", "video/"}, []string{".tmp"}},
		{"none", map[string]string{}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, tc.context)
			cfg, env := transferEnvironment(t, s.mainJSON)
			if !slices.Equal(cfg.Rules.IncludePrefixes, tc.include) || !slices.Equal(cfg.Rules.ExcludeSuffixes, tc.exclude) {
				t.Fatalf("the function reads rules %+v, want %v and %v", cfg.Rules, tc.include, tc.exclude)
			}
			for output, variable := range map[string]string{"IncludePrefixes": transferlambda.EnvIncludePrefixes, "ExcludeSuffixes": transferlambda.EnvExcludeSuffixes} {
				s.main.HasOutput(jsii.String(output), map[string]any{"Value": env[variable]})
			}
		})
	}
}
