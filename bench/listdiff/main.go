// Command listdiff is `make bench-list`: list + diff of a bucket pair on the
// stand-ins, backtoorigin verify beside rclone check --one-way and beside
// the listing ceiling (both listings alone, bare, no diff), with each
// contender's peak RSS, on the whole bucket and on a prefix subset.
//
// Both sides are versitygw buckets (the source read as an S3-compatible
// origin with an HMAC key, as backtoorigin reads GCS): fake-gcs-server
// answers every key in one page and ignores start-after, so it cannot
// stand in for a listing benchmark. The destination holds a realistic
// mix: 10% of the source's keys missing, 5% stale (another size), 1% extra.
//
// Then the memory-at-scale table: verify alone against a synthetic listing
// server with the same mix, at sizes no stand-in is populated to
// (-synthetic-keys; -keys 0 runs only that table).
//
//	go run ./bench/listdiff -keys 100000
//	go run ./bench/listdiff -keys 0 -synthetic-keys 1000000,10000000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/backtoorigin/backtoorigin/bench/internal/childreport"
	"github.com/backtoorigin/backtoorigin/internal/standin"
)

const (
	srcBucket = "listdiff-source"
	dstBucket = "listdiff-destination"
)

func main() {
	log.SetFlags(0)
	keys := flag.Int("keys", 100_000, "source keys")
	runs := flag.Int("runs", 3, "rounds, each running every contender once (order rotating); the table shows medians")
	rclone := flag.String("rclone", "rclone", "rclone binary")
	subset := flag.String("subset", "0,1", "prefixes of the smaller case (each holds 1/16 of the keys)")
	syntheticKeys := flag.String("synthetic-keys", "10000,100000,1000000", "sizes of the memory-at-scale table, verify against the synthetic listing server (empty: skip it)")
	limits := flag.String("synthetic-gomemlimit", "", "also run each synthetic size with these GOMEMLIMIT values, comma-separated (off: no limit)")
	flag.Parse()
	sizes, err := parseSizes(*syntheticKeys)
	if err != nil {
		log.Fatalf("listdiff: %v", err)
	}
	var limitList []string
	if *limits != "" {
		limitList = strings.Split(*limits, ",")
	}
	if err := run(context.Background(), *keys, *runs, *rclone, strings.Split(*subset, ","), sizes, limitList); err != nil {
		log.Fatalf("listdiff: %v", err)
	}
}

// key spreads keys over 256 directories, as hashed names do.
func key(i int) string { return fmt.Sprintf("%02x/%07d.bin", (i*2654435761)>>8&0xff, i) }

func size(i int) int { return 100 + i%900 }

type expect struct{ source, missing, stale, extra int }

func run(ctx context.Context, n, runs int, rclone string, subset []string, syntheticSizes []int, limits []string) error {
	tmp, err := os.MkdirTemp("", "listdiff-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bins, err := build(ctx, tmp)
	if err != nil {
		return err
	}
	if n > 0 {
		if err := compare(ctx, tmp, bins, n, runs, rclone, subset); err != nil {
			return err
		}
	}
	if len(syntheticSizes) > 0 {
		if n > 0 {
			fmt.Println()
		}
		return synthetic(ctx, bins, syntheticSizes, limits)
	}
	return nil
}

// build builds the contenders into dir.
func build(ctx context.Context, dir string) (map[string]string, error) {
	root, err := standin.ModuleRoot()
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	for name, pkg := range map[string]string{"backtoorigin": "./cmd/backtoorigin", "listceiling": "./bench/listceiling", "peakrss": "./bench/peakrss"} {
		bins[name] = filepath.Join(dir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bins[name], pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v: %s", pkg, err, out)
		}
	}
	return bins, nil
}

// compare is the versitygw table: n keys populated, verify beside rclone
// and the ceiling.
func compare(ctx context.Context, tmp string, bins map[string]string, n, runs int, rclone string, subset []string) error {
	dataDir := filepath.Join(tmp, "s3")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		return err
	}
	srv, err := standin.StartS3(ctx, dataDir)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, b := range []string{srcBucket, dstBucket} {
		if err := srv.CreateBucket(ctx, b); err != nil {
			return err
		}
	}
	start := time.Now()
	full, small, err := populate(ctx, srv.Client(), n, subset)
	if err != nil {
		return err
	}
	log.Printf("populated %d source keys and the destination in %.0f s", n, time.Since(start).Seconds())

	none := filepath.Join(tmp, "none")
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "XDG_CACHE_HOME=" + tmp,
		"AWS_ACCESS_KEY_ID=" + srv.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + srv.SecretAccessKey, "AWS_REGION=" + srv.Region,
		"AWS_ENDPOINT_URL_S3=" + srv.Endpoint, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
		"GCS_HMAC_ACCESS_KEY_ID=" + srv.AccessKeyID, "GCS_HMAC_SECRET=" + srv.SecretAccessKey,
		"RCLONE_CONFIG_S3_TYPE=s3", "RCLONE_CONFIG_S3_PROVIDER=Other", "RCLONE_CONFIG_S3_ENDPOINT=" + srv.Endpoint,
		"RCLONE_CONFIG_S3_ACCESS_KEY_ID=" + srv.AccessKeyID, "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=" + srv.SecretAccessKey, "RCLONE_CONFIG_S3_REGION=" + srv.Region,
	}
	fmt.Println("| keys | contender | seconds (median) | source keys/s | vs ceiling | peak RSS |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, c := range []struct {
		prefixes []string
		want     expect
	}{{subset, small}, {nil, full}} {
		if err := measure(ctx, bins, env, rclone, c.prefixes, c.want, runs); err != nil {
			return err
		}
	}
	return nil
}

func populate(ctx context.Context, c *s3.Client, n int, subset []string) (full, small expect, err error) {
	var g errgroup.Group
	g.SetLimit(32)
	var done atomic.Int64
	put := func(bucket, k string, sz int) {
		g.Go(func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(make([]byte, sz))})
			if d := done.Add(1); d%20000 == 0 {
				log.Printf("populating: %d objects", d)
			}
			return err
		})
	}
	inSubset := func(k string) bool {
		return slices.ContainsFunc(subset, func(p string) bool { return strings.HasPrefix(k, p) })
	}
	count := func(k string, f func(*expect)) {
		f(&full)
		if inSubset(k) {
			f(&small)
		}
	}
	for i := range n {
		k := key(i)
		put(srcBucket, k, size(i))
		count(k, func(e *expect) { e.source++ })
		switch {
		case i%10 == 0:
			count(k, func(e *expect) { e.missing++ })
		case i%20 == 1:
			put(dstBucket, k, size(i)+1)
			count(k, func(e *expect) { e.stale++ })
		default:
			put(dstBucket, k, size(i))
		}
		if i%100 == 0 {
			x := strings.Replace(k, ".bin", ".extra", 1)
			put(dstBucket, x, 10)
			count(x, func(e *expect) { e.extra++ })
		}
	}
	return full, small, g.Wait()
}

type sample struct {
	seconds    float64
	rssMiB     float64
	cpuSeconds float64
	liveMiB    float64 // from GODEBUG=gctrace=1, when the child ran with it
	gcs        int
}

func measure(ctx context.Context, bins map[string]string, env []string, rclone string, prefixes []string, want expect, runs int) error {
	var prefixFlags []string
	var includes []string
	for _, p := range prefixes {
		prefixFlags = append(prefixFlags, "--prefix", p)
		includes = append(includes, "--include", "/"+p+"*/**")
	}
	contenders := []struct {
		name  string
		args  []string
		check func(stdout string, code int) error
	}{
		{"ceiling (both listings, bare)", []string{bins["listceiling"], "-source-endpoint", endpointOf(env), "-source-bucket", srcBucket, "-bucket", dstBucket, "-prefixes", strings.Join(prefixes, ",")},
			func(out string, code int) error {
				w := fmt.Sprintf("source %d keys, destination %d keys", want.source, want.source-want.missing+want.extra)
				if code != 0 || !strings.Contains(out, w) {
					return fmt.Errorf("ceiling: exit %d, %q, want %q", code, out, w)
				}
				return nil
			}},
		{"backtoorigin verify", append([]string{bins["backtoorigin"], "verify", "--json", "--source-endpoint", endpointOf(env), "--source-bucket", srcBucket, "--source-region", "us-east-1", "--bucket", dstBucket}, prefixFlags...),
			func(out string, code int) error {
				var s struct{ Source, Missing, Stale, Extra struct{ Objects int } }
				if err := json.Unmarshal([]byte(out), &s); err != nil || code != 1 {
					return fmt.Errorf("verify: exit %d, %v: %s", code, err, out)
				}
				if got := (expect{s.Source.Objects, s.Missing.Objects, s.Stale.Objects, s.Extra.Objects}); got != want {
					return fmt.Errorf("verify found %+v, want %+v", got, want)
				}
				return nil
			}},
		{"rclone check --one-way --size-only", append([]string{rclone, "check", "--one-way", "--size-only", "-q", "s3:" + srcBucket, "s3:" + dstBucket}, includes...),
			func(_ string, code int) error {
				if code != 1 {
					return fmt.Errorf("rclone check: exit %d, want 1 (differences)", code)
				}
				return nil
			}},
	}
	results := make([][]sample, len(contenders))
	for round := range runs {
		for j := range contenders {
			i := (j + round) % len(contenders)
			c := contenders[i]
			s, err := runOne(ctx, bins["peakrss"], env, c.args, c.check)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			results[i] = append(results[i], s)
		}
	}
	median := func(ss []sample) sample {
		slices.SortFunc(ss, func(a, b sample) int { return int((a.seconds - b.seconds) * 1e6) })
		return ss[len(ss)/2]
	}
	ceiling := median(results[0])
	for i, c := range contenders {
		m := median(results[i])
		fmt.Printf("| %d | %s | %.2f | %.0f | %.2fx | %.0f MiB |\n", want.source, c.name, m.seconds, float64(want.source)/m.seconds, ceiling.seconds/m.seconds, m.rssMiB)
	}
	return nil
}

func endpointOf(env []string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "AWS_ENDPOINT_URL_S3="); ok {
			return v
		}
	}
	return ""
}

func runOne(ctx context.Context, peakrss string, env, args []string, check func(string, int) error) (sample, error) {
	report := filepath.Join(os.TempDir(), fmt.Sprintf("listdiff-rss-%d.json", time.Now().UnixNano()))
	defer os.Remove(report)
	cmd := exec.CommandContext(ctx, peakrss, append([]string{"-report", report}, args...)...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	seconds := time.Since(start).Seconds()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		return sample{}, err
	}
	if err := check(out.String(), code); err != nil {
		return sample{}, fmt.Errorf("%w\n%s", err, errOut.String())
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		return sample{}, fmt.Errorf("no usage report: %v\n%s", err, errOut.String())
	}
	var u childreport.Usage
	if err := json.Unmarshal(raw, &u); err != nil {
		return sample{}, err
	}
	live, gcs := liveHeap(errOut.String())
	return sample{seconds: seconds, rssMiB: float64(u.MaxRSSKiB) / 1024, cpuSeconds: u.CPUSeconds, liveMiB: live, gcs: gcs}, nil
}
