package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/local/cfn"
	"github.com/backtoorigin/backtoorigin/local/harness"
	"github.com/backtoorigin/backtoorigin/stacks"
)

// synthTemplate synthesizes the app with context, as `cdk synth -c ...`
// would, into a temporary folder and reads the main stack's template, so the
// front imitates exactly what that context deploys. It works from a clean
// clone: the template is made here, not taken from a cdk.out left by an
// earlier `make synth` with another context.
// An associated origin-request function is
// taken from the synthesized bundle, with its baked settings (cfn.LoadApp).
func synthTemplate(t *testing.T, context map[string]string) *cfn.Distribution {
	t.Helper()
	root, err := standin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stacks.ParseConfig(context, "", harness.Region)
	if err != nil {
		t.Fatalf("context %v: %v", context, err)
	}
	cfg.EdgeCodeDir = filepath.Join(root, "lambda", "edge")
	// The transfer binary's bytes do not matter to the template; the
	// harness builds and runs the real one.
	cfg.TransferCodeDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.TransferCodeDir, "bootstrap"), []byte("placeholder"), 0o755); err != nil {
		t.Fatal(err)
	}
	outdir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	if _, err := stacks.NewApp(app, cfg); err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	app.Synth(nil)
	d, err := cfn.LoadApp(outdir, stacks.MainStackName)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
