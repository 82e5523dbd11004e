package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// syntheticServer starts the synthetic listing server over keys and
// returns the arguments of a verify of it (both sides S3-compatible, the
// source signed with an HMAC key).
func syntheticServer(t *testing.T, keys int) (*standin.SyntheticS3, []string) {
	t.Helper()
	srv := standin.StartSyntheticS3(standin.SyntheticPair{Keys: keys})
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
	return srv, []string{"verify", "--json", "--bucket", standin.SyntheticDest, "--source-bucket", standin.SyntheticSource,
		"--source-endpoint", srv.Endpoint, "--source-region", standin.S3Region}
}

// syntheticVerify runs verify --json over keys synthetic keys and checks
// its counts.
func syntheticVerify(t *testing.T, keys int, extra ...string) *standin.SyntheticS3 {
	t.Helper()
	srv, args := syntheticServer(t, keys)
	r := cli(t, append(args, extra...)...)
	var s struct{ Source, Missing, Stale, Extra struct{ Objects int } }
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || r.code != exitDifferences {
		t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if got, want := (standin.SyntheticCounts{Source: s.Source.Objects, Missing: s.Missing.Objects, Stale: s.Stale.Objects, Extra: s.Extra.Objects}), srv.Pair.Counts(); got != want {
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

func TestListingCommandsSetASoftMemoryLimitUnlessGOMEMLIMITIsSet(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	if got := listingMemoryLimit(migrate.DefaultRanges, migrate.DefaultPageSize); got < 24<<20 || got > 40<<20 {
		t.Fatalf("limit at the defaults %d MiB, want about 32", got>>20)
	}
	if listingMemoryLimit(64, 1000) <= listingMemoryLimit(16, 1000) || listingMemoryLimit(16, 5000) != listingMemoryLimit(16, 1000) {
		t.Fatal("the limit must grow with the ranges, and not with pages larger than servers send")
	}

	// run, not cli, which puts the test process's limit back.
	verify := func(extra ...string) int64 {
		t.Helper()
		_, args := syntheticServer(t, 1000)
		debug.SetMemoryLimit(math.MaxInt64)
		if code := run(context.Background(), append(args, extra...), io.Discard, io.Discard); code != exitDifferences {
			t.Fatalf("verify: exit %d", code)
		}
		return debug.SetMemoryLimit(-1)
	}
	t.Setenv("GOMEMLIMIT", "")
	if got, want := verify("--ranges", "4"), listingMemoryLimit(4, migrate.DefaultPageSize); got != want {
		t.Fatalf("verify set the memory limit to %d, want %d", got, want)
	}
	t.Setenv("GOMEMLIMIT", "off")
	if got := verify(); got != math.MaxInt64 {
		t.Fatalf("with GOMEMLIMIT=off verify set the memory limit to %d", got)
	}
}
