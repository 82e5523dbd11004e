package stacks_test

import (
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// The backtoorigin command reads the key rules from the stack's outputs, so
// a backfill never queues a key the transfer function would acknowledge
// unread: the outputs must say exactly what the function's environment says.
func TestTheOutputsCarryTheTransferFunctionsKeyRules(t *testing.T) {
	for _, tc := range []struct {
		name             string
		context          map[string]string
		include, exclude string
	}{
		{"rules", map[string]string{"includePrefixes": "img/,video/", "excludeSuffixes": `[".tmp"]`}, `["img/","video/"]`, `[".tmp"]`},
		{"none", map[string]string{}, `[]`, `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, tc.context)
			env := transferFunction(t, s.mainJSON)["Environment"].(map[string]any)["Variables"].(map[string]any)
			for name, want := range map[string]string{"IncludePrefixes": tc.include, "ExcludeSuffixes": tc.exclude} {
				s.main.HasOutput(jsii.String(name), map[string]any{"Value": want})
			}
			if env["INCLUDE_PREFIXES"] != tc.include || env["EXCLUDE_SUFFIXES"] != tc.exclude {
				t.Errorf("environment %v %v, want %s %s", env["INCLUDE_PREFIXES"], env["EXCLUDE_SUFFIXES"], tc.include, tc.exclude)
			}
		})
	}
}
