package stacks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backtoorigin/backtoorigin/stacks"
)

func TestSourceSettingsAreValidatedAtSynth(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{"sourceEndpoint", "http://storage.googleapis.com", "https"},
		{"sourceEndpoint", "https://203.0.113.7", "IP address"},
		{"sourceEndpoint", "https://s3.example.com/bucket", "no path"},
		{"sourceEndpoint", "https://s3.{bucket}.example.com", "first label"},
		{"sourceRegion", "Europe", "auto"},
		{"sourceHmacSecret", "arn:aws:secretsmanager:eu-west-1:111122223333:nope", "secret ARN"},
		{"sourceHmacSecret", "bad name!", "secret name"},
	} {
		_, err := stacks.ParseConfig(map[string]string{tc.key: tc.value}, "", "eu-west-1")
		if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: error %v, want one naming %s and saying %q", tc.key, tc.value, err, tc.key, tc.want)
		}
	}
	cfg, err := stacks.ParseConfig(map[string]string{"sourceHmacSecret": "arn:aws:secretsmanager:eu-central-1:111122223333:secret:gcs-hmac-AbCdEf"}, "", "eu-west-1")
	if err != nil || cfg.SourceHMACSecretRegion != "eu-central-1" || cfg.SourceRegion != "auto" || cfg.Source.Raw != "https://storage.googleapis.com" {
		t.Errorf("config = %+v, %v: want the secret's region from its ARN and the GCS defaults", cfg, err)
	}
}

// sourceOrigin is the origin group's secondary origin.
func sourceOrigin(t *testing.T, s *synthesized) map[string]any {
	t.Helper()
	for _, o := range at[[]any](t, distributionConfig(t, s), "Origins") {
		if o := at[map[string]any](t, o); o["CustomOriginConfig"] != nil {
			return o
		}
	}
	t.Fatal("no custom origin")
	return nil
}

func bakedSettings(t *testing.T, s *synthesized) stacks.EdgeSettings {
	t.Helper()
	key := at[string](t, edgeFunction(t, s.edgeJSON), "Code", "S3Key")
	b, err := os.ReadFile(filepath.Join(s.outdir, "asset."+strings.TrimSuffix(key, ".zip"), "settings.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSettingsModule[stacks.EdgeSettings](b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOneSourceEndpointReachesTheOriginTheEdgeTheTransferAndAnOutput(t *testing.T) {
	// GIVEN a virtual-hosted S3-compatible source on a port of its own
	s := synth(t, map[string]string{"sourceEndpoint": "https://{bucket}.s3.us-west-004.backblazeb2.com:8443", "sourceRegion": "us-west-004"})

	// THEN the secondary origin is the bucket's own host name, with no origin path
	origin := sourceOrigin(t, s)
	if domain := jsonOf(origin["DomainName"]); domain != `{"Fn::Join":["",[{"Ref":"gcsBucketName"},".s3.us-west-004.backblazeb2.com"]]}` {
		t.Errorf("source origin domain = %s", domain)
	}
	if p, ok := origin["OriginPath"]; ok && p != "" {
		t.Errorf("virtual-hosted origin has an origin path %v", p)
	}
	if port, _ := lookup[float64](origin, "CustomOriginConfig", "HTTPSPort"); port != 8443 {
		t.Errorf("HTTPS port = %v", port)
	}
	// AND the edge handler recognises it by that host after the bucket label
	if got := bakedSettings(t, s).SourceDomainName; got != "{bucket}.s3.us-west-004.backblazeb2.com" {
		t.Errorf("baked source domain = %q", got)
	}
	// AND the transfer function reads the same endpoint, signing for its region
	if cfg, env := transferEnvironment(t, s.mainJSON); cfg.SourceEndpoint != "https://{bucket}.s3.us-west-004.backblazeb2.com:8443" || cfg.SourceRegion != "us-west-004" {
		t.Errorf("transfer environment = %v", env)
	}
	// AND the command-line tool can read both from the stack's outputs
	for name, want := range map[string]string{"SourceEndpoint": "https://{bucket}.s3.us-west-004.backblazeb2.com:8443", "SourceRegion": "us-west-004"} {
		if got, _ := lookup[any](s.mainJSON, "Outputs", name, "Value"); got != want {
			t.Errorf("output %s = %v, want %s", name, got, want)
		}
	}
}

func TestDefaultSourceIsGCSPathStyle(t *testing.T) {
	s := defaults(t)
	origin := sourceOrigin(t, s)
	path := jsonOf(origin["OriginPath"])
	if origin["DomainName"] != "storage.googleapis.com" || path != `{"Fn::Join":["",["/",{"Ref":"gcsBucketName"}]]}` {
		t.Errorf("source origin = %v %s", origin["DomainName"], path)
	}
	custom := at[map[string]any](t, origin, "CustomOriginConfig")
	if port, ok := custom["HTTPSPort"]; ok && port != float64(443) {
		t.Errorf("HTTPS port = %v", port)
	}
	// The transfer function's environment says so, not only its default (transferEnvironment
	// requires every default written out).
	if cfg, env := transferEnvironment(t, s.mainJSON); cfg.SourceEndpoint != "https://storage.googleapis.com" || cfg.SourceRegion != "auto" {
		t.Errorf("transfer environment = %v", env)
	}
	if got, _ := lookup[any](s.mainJSON, "Outputs", "SourceEndpoint", "Value"); got != "https://storage.googleapis.com" {
		t.Errorf("SourceEndpoint output = %v", got)
	}
}
