package stacks_test

import (
	"encoding/json"
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
	dist := only(t, s.mainJSON, "AWS::CloudFront::Distribution")["DistributionConfig"].(map[string]any)
	for _, o := range dist["Origins"].([]any) {
		if o := o.(map[string]any); o["CustomOriginConfig"] != nil {
			return o
		}
	}
	t.Fatal("no custom origin")
	return nil
}

func bakedSettings(t *testing.T, s *synthesized) stacks.EdgeSettings {
	t.Helper()
	key := edgeFunction(t, s.edgeJSON)["Code"].(map[string]any)["S3Key"].(string)
	b, err := os.ReadFile(filepath.Join(s.outdir, "asset."+strings.TrimSuffix(key, ".zip"), "settings.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	var got stacks.EdgeSettings
	body := strings.TrimSuffix(strings.TrimSpace(string(b[strings.Index(string(b), "{"):])), ";")
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOneSourceEndpointReachesTheOriginTheEdgeTheTransferAndAnOutput(t *testing.T) {
	// GIVEN a virtual-hosted S3-compatible source on a port of its own
	s := synth(t, map[string]string{"sourceEndpoint": "https://{bucket}.s3.us-west-004.backblazeb2.com:8443", "sourceRegion": "us-west-004"})

	// THEN the secondary origin is the bucket's own host name, with no origin path
	origin := sourceOrigin(t, s)
	domain, _ := json.Marshal(origin["DomainName"])
	if string(domain) != `{"Fn::Join":["",[{"Ref":"gcsBucketName"},".s3.us-west-004.backblazeb2.com"]]}` {
		t.Errorf("source origin domain = %s", domain)
	}
	if p, ok := origin["OriginPath"]; ok && p != "" {
		t.Errorf("virtual-hosted origin has an origin path %v", p)
	}
	if port := origin["CustomOriginConfig"].(map[string]any)["HTTPSPort"]; port != float64(8443) {
		t.Errorf("HTTPS port = %v", port)
	}
	// AND the edge handler recognises it by that host after the bucket label
	if got := bakedSettings(t, s).SourceDomainName; got != "{bucket}.s3.us-west-004.backblazeb2.com" {
		t.Errorf("baked source domain = %q", got)
	}
	// AND the transfer function reads the same endpoint, signing for its region
	env := transferFunction(t, s.mainJSON)["Environment"].(map[string]any)["Variables"].(map[string]any)
	if env["SOURCE_ENDPOINT"] != "https://{bucket}.s3.us-west-004.backblazeb2.com:8443" || env["SOURCE_REGION"] != "us-west-004" {
		t.Errorf("transfer environment = %v", env)
	}
	// AND the command-line tool can read both from the stack's outputs
	outputs := s.mainJSON["Outputs"].(map[string]any)
	for name, want := range map[string]string{"SourceEndpoint": "https://{bucket}.s3.us-west-004.backblazeb2.com:8443", "SourceRegion": "us-west-004"} {
		if got := outputs[name].(map[string]any)["Value"]; got != want {
			t.Errorf("output %s = %v, want %s", name, got, want)
		}
	}
}

func TestDefaultSourceIsGCSPathStyle(t *testing.T) {
	s := defaults(t)
	origin := sourceOrigin(t, s)
	path, _ := json.Marshal(origin["OriginPath"])
	if origin["DomainName"] != "storage.googleapis.com" || string(path) != `{"Fn::Join":["",["/",{"Ref":"gcsBucketName"}]]}` {
		t.Errorf("source origin = %v %s", origin["DomainName"], path)
	}
	if _, ok := origin["CustomOriginConfig"].(map[string]any)["HTTPSPort"]; ok && origin["CustomOriginConfig"].(map[string]any)["HTTPSPort"] != float64(443) {
		t.Errorf("HTTPS port = %v", origin["CustomOriginConfig"].(map[string]any)["HTTPSPort"])
	}
	env := transferFunction(t, s.mainJSON)["Environment"].(map[string]any)["Variables"].(map[string]any)
	if env["SOURCE_ENDPOINT"] != "https://storage.googleapis.com" || env["SOURCE_REGION"] != "auto" {
		t.Errorf("transfer environment = %v", env)
	}
	if got := s.mainJSON["Outputs"].(map[string]any)["SourceEndpoint"].(map[string]any)["Value"]; got != "https://storage.googleapis.com" {
		t.Errorf("SourceEndpoint output = %v", got)
	}
}
