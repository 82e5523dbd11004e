package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// synthetic is the memory-at-scale table: backtoorigin verify, the command
// as built, against the synthetic listing server (standin.SyntheticS3: both
// buckets computed page by page, so ten million keys need no populating),
// once per size, with its peak RSS and the largest live heap its GC
// reported (GODEBUG=gctrace=1). Flat means both stay put as the keys grow
// tenfold. With limits, each size also runs under those GOMEMLIMIT values
// ("off": no limit at all), to show what the command's own limit buys.
func synthetic(ctx context.Context, bins map[string]string, sizes []int, limits []string) error {
	fmt.Println("| keys | GOMEMLIMIT | seconds | source keys/s | CPU seconds | peak RSS | largest live heap | GCs | connections / listings |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, n := range sizes {
		pair := standin.SyntheticPair{Keys: n}
		srv := standin.StartSyntheticS3(pair)
		env := []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "GODEBUG=gctrace=1",
			"AWS_ACCESS_KEY_ID=synthetic", "AWS_SECRET_ACCESS_KEY=synthetic", "AWS_REGION=" + standin.S3Region,
			"AWS_ENDPOINT_URL_S3=" + srv.Endpoint, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
			"GCS_HMAC_ACCESS_KEY_ID=synthetic", "GCS_HMAC_SECRET=synthetic",
		}
		args := []string{bins["backtoorigin"], "verify", "--json", "--source-endpoint", srv.Endpoint, "--source-bucket", standin.SyntheticSource, "--source-region", standin.S3Region, "--bucket", standin.SyntheticDest}
		want := pair.Counts()
		check := func(out string, code int) error {
			var s struct{ Source, Missing, Stale, Extra struct{ Objects int } }
			if err := json.Unmarshal([]byte(out), &s); err != nil || code != 1 {
				return fmt.Errorf("verify: exit %d, %v: %s", code, err, out)
			}
			if got := (standin.SyntheticCounts{Source: s.Source.Objects, Missing: s.Missing.Objects, Stale: s.Stale.Objects, Extra: s.Extra.Objects}); got != want {
				return fmt.Errorf("verify found %+v, want %+v", got, want)
			}
			return nil
		}
		for _, limit := range append([]string{""}, limits...) {
			e := env
			if limit != "" {
				e = append(e, "GOMEMLIMIT="+limit)
			}
			conns0, requests0 := srv.Counts()
			s, err := runOne(ctx, bins["peakrss"], e, args, check)
			conns, requests := srv.Counts()
			if err != nil {
				srv.Close()
				return fmt.Errorf("synthetic %d keys, GOMEMLIMIT=%q: %w", n, limit, err)
			}
			shown := limit
			if shown == "" {
				shown = "(the command's)"
			}
			fmt.Printf("| %d | %s | %.2f | %.0f | %.1f | %.0f MiB | %.0f MiB | %d | %d / %d |\n", n, shown, s.seconds, float64(n)/s.seconds, s.cpuSeconds, s.rssMiB, s.liveMiB, s.gcs, conns-conns0, requests-requests0)
		}
		srv.Close()
	}
	return nil
}

// gcLine is one GODEBUG=gctrace=1 line's heap sizes: at the start of
// marking, at its end, and the live heap marked.
var gcLine = regexp.MustCompile(`(?m)^gc \d+ .* (\d+)->(\d+)->(\d+) MB`)

// liveHeap reads the largest live heap and the number of GCs from a
// gctrace log.
func liveHeap(stderr string) (maxLiveMiB float64, gcs int) {
	for _, m := range gcLine.FindAllStringSubmatch(stderr, -1) {
		live, _ := strconv.Atoi(m[3]) // the runtime's "MB" are MiB
		maxLiveMiB = max(maxLiveMiB, float64(live))
		gcs++
	}
	return maxLiveMiB, gcs
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-synthetic-keys: %q is not a number of keys", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
