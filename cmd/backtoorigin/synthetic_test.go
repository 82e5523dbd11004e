package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// syntheticVerify runs verify --json against the synthetic listing server
// (both sides S3-compatible, the source signed with an HMAC key) and
// checks its counts.
func syntheticVerify(t *testing.T, keys int, extra ...string) *standin.SyntheticS3 {
	t.Helper()
	pair := standin.SyntheticPair{Keys: keys}
	srv := standin.StartSyntheticS3(pair)
	t.Cleanup(srv.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "synthetic", "AWS_SECRET_ACCESS_KEY": "synthetic", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": standin.S3Region, "AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_S3": srv.Endpoint, "AWS_ENDPOINT_URL": "",
		envHMACKeyID: "synthetic", envHMACSecret: "synthetic", "XDG_CACHE_HOME": t.TempDir(),
	} {
		t.Setenv(k, v)
	}
	r := cli(t, append([]string{"verify", "--json", "--bucket", standin.SyntheticDest, "--source-bucket", standin.SyntheticSource,
		"--source-endpoint", srv.Endpoint, "--source-region", standin.S3Region}, extra...)...)
	var s struct{ Source, Missing, Stale, Extra struct{ Objects int } }
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || r.code != exitDifferences {
		t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if got, want := (standin.SyntheticCounts{Source: s.Source.Objects, Missing: s.Missing.Objects, Stale: s.Stale.Objects, Extra: s.Extra.Objects}), pair.Counts(); got != want {
		t.Fatalf("verify found %+v, want %+v", got, want)
	}
	return srv
}

// TestVerifyKeepsAConnectionPerRange: 16 ranges list both sides at once;
// with net/http's default of 2 idle connections per host (10 in the SDK)
// every other page opened a connection (a TLS handshake against GCS).
func TestVerifyKeepsAConnectionPerRange(t *testing.T) {
	srv := syntheticVerify(t, 250_000)
	conns, requests := srv.Counts()
	t.Logf("%d connections for %d listings", conns, requests)
	if conns > 64 {
		t.Fatalf("%d connections for %d listings over 16 ranges of two sides: want one per range and side, and a few more", conns, requests)
	}
}
