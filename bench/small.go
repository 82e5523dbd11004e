package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backtoorigin/backtoorigin/bench/internal/payload"
	"github.com/backtoorigin/backtoorigin/internal/standin"
)

const smallDestBucket = "bench-small-destination"

// sizeBand is one share of the small-objects mix: sizes log-uniform in
// (lo, hi], which puts more objects near the band's small end, as in real
// buckets.
type sizeBand struct {
	share  float64
	lo, hi int64
}

// smallMix is the mix: 40% up to 8 KiB, 40% 8-256 KiB, 15% 256 KiB
// to 4 MiB, 5% 4-32 MiB.
var smallMix = []sizeBand{
	{0.40, 0, 8 << 10},
	{0.40, 8 << 10, 256 << 10},
	{0.15, 256 << 10, 4 << 20},
	{0.05, 4 << 20, 32 << 20},
}

type smallObject struct {
	Key  string
	Size int64
	MD5  string // hex, as a single-part ETag
}

// smallSizes draws n sizes from the mix with a fixed seed: the same set
// every run.
func smallSizes(n int, seed uint64) []int64 {
	rng := rand.New(rand.NewPCG(seed, 0x736d616c6c))
	sizes := make([]int64, n)
	for i := range sizes {
		u, band := rng.Float64(), smallMix[len(smallMix)-1]
		for _, b := range smallMix {
			if u < b.share {
				band = b
				break
			}
			u -= b.share
		}
		lo := math.Log(float64(max(band.lo, 1)))
		sizes[i] = max(band.lo+1, int64(math.Exp(lo+rng.Float64()*(math.Log(float64(band.hi))-lo))))
	}
	return sizes
}

func seedSmall(gcs *standin.GCS, n int) ([]smallObject, error) {
	sizes := smallSizes(n, 15)
	largest := slices.Max(sizes)
	data := payload.New(largest)
	objects := make([]smallObject, n)
	for i, size := range sizes {
		// Each object a different slice of the payload: no two are alike.
		off := int64(i*4099) % (largest - size + 1)
		content := data[off : off+size]
		sum := md5.Sum(content)
		objects[i] = smallObject{Key: fmt.Sprintf("small/%04d-%d.bin", i, size), Size: size, MD5: hex.EncodeToString(sum[:])}
		if _, err := gcs.PutObject(standin.GCSObject{Bucket: sourceBucket, Key: objects[i].Key, Content: content, ContentType: "application/octet-stream"}); err != nil {
			return nil, err
		}
	}
	return objects, nil
}

// smallRun is one contender's run over the whole set.
type smallRun struct {
	measurement
	Requests map[string]int
}

type smallEnv struct {
	*environment
	objects            []smallObject
	bytes              int64
	keysFile, objsFile string
	gcsCount, s3Count  *requestCounter
	s3Endpoint         string // the counting proxy in front of MinIO
}

// runSmall is `bench -small`: the small-objects set copied by the engine
// (through the Lambda's handler) and by rclone, and the stand-ins' ceiling,
// in rotating order, every request counted on its way to a stand-in.
func runSmall(ctx context.Context, cfg config, began time.Time, loadBefore string) error {
	root, err := locateTools(&cfg, true)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "backtoorigin-bench-small-")
	if err != nil {
		return fmt.Errorf("make temp folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	helpers, err := buildPackages(ctx, root, filepath.Join(tmp, "bin"), map[string]string{
		"peakrss": "./bench/peakrss", "smallcopy": "./bench/smallcopy", "smallceiling": "./bench/smallceiling",
	})
	if err != nil {
		return err
	}
	minio, dest, err := startDestination(ctx, cfg.minio, tmp, smallDestBucket)
	if err != nil {
		return err
	}
	defer minio.Close()

	s := &smallEnv{
		environment: &environment{cfg: cfg, helpers: helpers, tmp: tmp, minio: minio, dest: dest},
		gcsCount:    newRequestCounter(gcsKind),
		s3Count:     newRequestCounter(s3Kind),
	}
	gcs, closeSource, err := s.serveSource()
	if err != nil {
		return err
	}
	defer closeSource()
	closeDestination, err := s.serveDestination()
	if err != nil {
		return err
	}
	defer closeDestination()
	if err := s.seed(gcs); err != nil {
		return err
	}

	runs, err := s.measureRounds(ctx)
	if err != nil {
		return err
	}
	cold, err := measureColdStart(ctx, root, tmp, cfg.runs)
	if err != nil {
		return err
	}
	printSmallReport(os.Stdout, cfg, s, runs, cold, smallInfo{rclone: rcloneVersionOf(ctx, cfg.rclone), loadBefore: loadBefore, elapsed: time.Since(began)})
	return nil
}

// serveSource serves the GCS stand-in from this process, counted as it
// serves (no relay hop); its JSON links point here too, so rclone's
// downloads by mediaLink are counted.
func (s *smallEnv) serveSource() (*standin.GCS, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	gcsURL := "http://" + ln.Addr().String()
	gcs, err := standin.StartGCS(standin.GCSOptions{ExternalURL: gcsURL})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	srv := &http.Server{Handler: s.gcsCount.wrap(gcs.Server.HTTPHandler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.sourceEndpoint = gcsURL
	return gcs, func() {
		_ = srv.Close()
		gcs.Close()
	}, nil
}

// serveDestination puts a relaying proxy that counts in front of MinIO,
// which is another process.
func (s *smallEnv) serveDestination() (func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s3Proxy, err := newCountingProxy(s.minio.Endpoint, s.s3Count, 4*s.cfg.smallConcurrency)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: s3Proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.s3Endpoint = "http://" + ln.Addr().String()
	return func() { _ = srv.Close() }, nil
}

// seed puts the small-objects set into the source and writes the lists of
// keys and of sizes and keys the children read.
func (s *smallEnv) seed(gcs *standin.GCS) error {
	gcs.CreateBucket(sourceBucket, false)
	log.Printf("seeding fake-gcs with %d small objects ...", s.cfg.smallObjects)
	var err error
	if s.objects, err = seedSmall(gcs, s.cfg.smallObjects); err != nil {
		return err
	}
	var keys, objs strings.Builder
	for _, o := range s.objects {
		s.bytes += o.Size
		fmt.Fprintln(&keys, o.Key)
		fmt.Fprintf(&objs, "%d %s\n", o.Size, o.Key)
	}
	s.keysFile, s.objsFile = filepath.Join(s.tmp, "keys.txt"), filepath.Join(s.tmp, "objects.txt")
	if err := os.WriteFile(s.keysFile, []byte(keys.String()), 0o600); err != nil {
		return err
	}
	return os.WriteFile(s.objsFile, []byte(objs.String()), 0o600)
}

// measureRounds runs every contender once a round, cfg.runs rounds, in
// smallRoundOrder.
func (s *smallEnv) measureRounds(ctx context.Context) (map[string][]smallRun, error) {
	runs := map[string][]smallRun{}
	for round := range s.cfg.runs {
		for _, c := range smallRoundOrder(round) {
			log.Printf("small objects: round %d of %d: %s", round+1, s.cfg.runs, c)
			r, err := s.measure(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("small objects, %s: %w", c, err)
			}
			runs[c] = append(runs[c], r)
		}
	}
	return runs, nil
}

// smallRoundOrder keeps the engine and the ceiling back to back in every
// round (the goal's ratio is theirs), alternates which of the two goes
// first, and puts rclone before them in every other round, next to the
// engine in half the rounds.
func smallRoundOrder(round int) []string {
	orders := [][]string{
		{"engine", "ceiling", "rclone"},
		{"rclone", "engine", "ceiling"},
		{"ceiling", "engine", "rclone"},
		{"rclone", "ceiling", "engine"},
	}
	return slices.Clone(orders[round%len(orders)])
}

func (s *smallEnv) measure(ctx context.Context, contender string) (smallRun, error) {
	if err := s.clearSmall(ctx); err != nil {
		return smallRun{}, err
	}
	var spec childSpec
	switch contender {
	case "engine":
		spec = s.smallEngineSpec()
	case "rclone":
		spec = s.smallRcloneSpec()
	case "ceiling":
		spec = s.smallCeilingSpec()
	}
	s.gcsCount.Take()
	s.s3Count.Take()
	g, err := runGroup(ctx, s.helpers["peakrss"], []childSpec{spec}, s.minio.Pid())
	if err != nil {
		return smallRun{}, err
	}
	requests := s.gcsCount.Take()
	for k, v := range s.s3Count.Take() {
		requests[k] = v
	}
	c := g.Children[0]
	if s.cfg.trace && c.Stderr != "" {
		log.Printf("%s:\n%s", contender, c.Stderr)
	}
	if err := s.verifySmall(ctx, contender != "ceiling"); err != nil {
		return smallRun{}, fmt.Errorf("%s: %w", contender, err)
	}
	m := measurement{Seconds: g.Seconds, MaxRSSKiB: c.MaxRSSKiB, CPUChild: c.CPUSeconds, CPUMinIO: g.MinIOCPU, CPUFakeGCS: g.OrchestratorCPUSecs, HasRSS: true}
	if c.Reported != nil {
		m.InnerSecs = float64(c.Reported.EndUnixNano-c.Reported.StartUnixNano) / 1e9
	}
	m.CPUOther = max(0, g.MachineCPUSeconds-m.CPUChild-m.CPUMinIO.Total()-m.CPUFakeGCS)
	return smallRun{measurement: m, Requests: requests}, nil
}

// clearSmall empties the destination bucket (objects and open uploads).
func (s *smallEnv) clearSmall(ctx context.Context) error {
	c := s.dest.client
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(smallDestBucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list destination: %w", err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		var ids []types.ObjectIdentifier
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(smallDestBucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("clear destination: %w", err)
		}
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(smallDestBucket)})
	if err != nil {
		return fmt.Errorf("list uploads: %w", err)
	}
	for _, u := range ups.Uploads {
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(smallDestBucket), Key: u.Key, UploadId: u.UploadId}); err != nil {
			return fmt.Errorf("abort upload: %w", err)
		}
	}
	return nil
}

// verifySmall checks that the destination holds every object at its size,
// and, for copies, that every single-part object's ETag is the source's
// MD5 and every multipart one has the part count of the part size.
func (s *smallEnv) verifySmall(ctx context.Context, isCopy bool) error {
	got := map[string]types.Object{}
	p := s3.NewListObjectsV2Paginator(s.dest.client, &s3.ListObjectsV2Input{Bucket: aws.String(smallDestBucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list destination: %w", err)
		}
		for _, o := range page.Contents {
			got[aws.ToString(o.Key)] = o
		}
	}
	if len(got) != len(s.objects) {
		return fmt.Errorf("destination has %d objects, want %d", len(got), len(s.objects))
	}
	for _, o := range s.objects {
		d, ok := got[o.Key]
		if !ok || aws.ToInt64(d.Size) != o.Size {
			return fmt.Errorf("%s: %d bytes in the destination (present %v), want %d", o.Key, aws.ToInt64(d.Size), ok, o.Size)
		}
		etag := strings.Trim(aws.ToString(d.ETag), `"`)
		if !isCopy {
			continue
		}
		if o.Size <= s.cfg.partSize && etag != o.MD5 {
			return fmt.Errorf("%s: ETag %s, want the source's MD5 %s", o.Key, etag, o.MD5)
		}
		if want := (o.Size + s.cfg.partSize - 1) / s.cfg.partSize; o.Size > s.cfg.partSize && etagParts(etag) != want {
			return fmt.Errorf("%s: ETag %s, want %d parts", o.Key, etag, want)
		}
	}
	return nil
}

// smallEnvFor is the children's environment, with S3 behind the counting proxy.
func (s *smallEnv) childEnv() []string {
	env := s.baseEnv()
	for i, kv := range env {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL_S3=") {
			env[i] = "AWS_ENDPOINT_URL_S3=" + s.s3Endpoint
		}
	}
	return env
}

func (s *smallEnv) smallEngineSpec() childSpec {
	n := strconv.Itoa(s.cfg.smallConcurrency)
	env := append(s.childEnv(),
		"DESTINATION_BUCKET="+smallDestBucket,
		"SOURCE_BUCKET="+sourceBucket,
		"SOURCE_ENDPOINT="+s.sourceEndpoint,
		// Never used: no copy of the set runs out of time, and none is malformed.
		"QUEUE_URL=http://127.0.0.1:1/queue", "DEAD_LETTER_QUEUE_URL=http://127.0.0.1:1/dlq",
		"PART_SIZE_MIB="+strconv.FormatInt(s.cfg.partSize>>20, 10),
		"PART_CONCURRENCY="+n, "BATCH_CONCURRENCY="+n,
	)
	return childSpec{Name: "engine", Path: s.helpers["smallcopy"], Args: []string{"-keys", s.keysFile}, Env: env, ReportsInner: true}
}

func (s *smallEnv) smallCeilingSpec() childSpec {
	return childSpec{
		Name: "ceiling", Path: s.helpers["smallceiling"], Env: s.childEnv(), WaitGo: true,
		Args: []string{
			"-objects", s.objsFile, "-source", s.sourceEndpoint, "-source-bucket", sourceBucket, "-dest-bucket", smallDestBucket,
			"-concurrency", strconv.Itoa(s.cfg.smallConcurrency), "-part-size", strconv.FormatInt(s.cfg.partSize, 10), "-wait-go",
		},
	}
}

// smallRcloneFlags: --transfers is the stated concurrency; the part size
// and cutoff are the engine's (see rcloneFlags); the rest rclone's defaults.
func smallRcloneFlags(cfg config) []string {
	kib := cfg.partSize / 1024
	return []string{
		"--transfers", strconv.Itoa(cfg.smallConcurrency),
		"--s3-chunk-size", strconv.FormatInt(kib, 10) + "k",
		"--s3-upload-cutoff", strconv.FormatInt(kib+1, 10) + "k",
		"--s3-no-check-bucket",
	}
}

func (s *smallEnv) smallRcloneSpec() childSpec {
	env := append(s.childEnv(),
		"RCLONE_CONFIG_GCSSRC_TYPE=google cloud storage",
		"RCLONE_CONFIG_GCSSRC_ANONYMOUS=true",
		"RCLONE_CONFIG_GCSSRC_ENDPOINT="+s.sourceEndpoint+"/storage/v1/",
		"RCLONE_CONFIG_BENCHDST_TYPE=s3",
		"RCLONE_CONFIG_BENCHDST_PROVIDER=Minio",
		"RCLONE_CONFIG_BENCHDST_ENV_AUTH=false",
		"RCLONE_CONFIG_BENCHDST_ACCESS_KEY_ID="+s.minio.AccessKeyID,
		"RCLONE_CONFIG_BENCHDST_SECRET_ACCESS_KEY="+s.minio.SecretAccessKey,
		"RCLONE_CONFIG_BENCHDST_ENDPOINT="+s.s3Endpoint,
		"RCLONE_CONFIG_BENCHDST_REGION=us-east-1",
	)
	args := append([]string{
		"copy", "gcssrc:" + sourceBucket, "benchdst:" + smallDestBucket,
		"--config", filepath.Join(s.tmp, "rclone.conf"), "--log-level", "ERROR",
	}, smallRcloneFlags(s.cfg)...)
	return childSpec{Name: "rclone", Path: s.cfg.rclone, Args: args, Env: env}
}

type smallInfo struct {
	rclone, loadBefore string
	elapsed            time.Duration
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func printSmallReport(w io.Writer, cfg config, s *smallEnv, runs map[string][]smallRun, cold []time.Duration, info smallInfo) {
	n := len(s.objects)
	fmt.Fprintf(w, "\nsmall objects: %d objects, %.1f MB, seeded mix (40%% <= 8 KiB, 40%% 8-256 KiB, 15%% 256 KiB-4 MiB, 5%% 4-32 MiB; log-uniform in each band)\n", n, float64(s.bytes)/1e6)
	fmt.Fprintf(w, "GCS (fake-gcs-server, in process) -> S3 (MinIO) on 127.0.0.1, %d CPUs, %s\n", runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(w, "load average (1, 5, 15 min) before the run: %s, after: %s\n", info.loadBefore, loadAverage())
	fmt.Fprintf(w, "concurrency %d: the engine's PART_CONCURRENCY and BATCH_CONCURRENCY (handler batches of 10 records), rclone --transfers, the ceiling's GETs and its PUTs\n", cfg.smallConcurrency)
	fmt.Fprintf(w, "%d rounds, each running every contender once, the engine and the ceiling back to back (order alternating), rclone before or after them;\n", cfg.runs)
	fmt.Fprintln(w, "cells are each contender's median run by time; goal ratios are paired within a round")
	fmt.Fprintf(w, "rclone: %s: copy %s\n", info.rclone, strings.Join(smallRcloneFlags(cfg), " "))
	fmt.Fprintln(w, "requests counted where they reach a stand-in (GCS: as fake-gcs serves them; S3: at a relaying proxy whose CPU is in the fake-gcs column)")
	fmt.Fprintln(w)
	med := map[string]smallRun{}
	for name, rs := range runs {
		sorted := slices.Clone(rs)
		slices.SortFunc(sorted, func(a, b smallRun) int { return cmpFloat(a.Seconds, b.Seconds) })
		med[name] = sorted[len(sorted)/2]
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "contender\tseconds\tobjects/s\tMB/s\tx rclone\tx ceiling\trequests/object\tpeak RSS MiB\tCPU s self\tCPU s MinIO\tCPU s fake-gcs+proxy\tCPU s other\t")
	for _, name := range []string{"engine", "rclone", "ceiling"} {
		m, ok := med[name]
		if !ok {
			continue
		}
		xr, xc := "", ""
		if name != "rclone" {
			xr = fmt.Sprintf("%.2f", med["rclone"].Seconds/m.Seconds)
		}
		if name != "ceiling" {
			xc = fmt.Sprintf("%.2f", med["ceiling"].Seconds/m.Seconds)
		}
		total, _ := perObject(m.Requests, n)
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.1f\t%s\t%s\t%.2f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", name, m.Seconds, float64(n)/m.Seconds, float64(s.bytes)/1e6/m.Seconds,
			xr, xc, total, float64(m.MaxRSSKiB)/1024, m.CPUChild, m.CPUMinIO.Total(), m.CPUFakeGCS, m.CPUOther)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nrequests per object by kind (median run):")
	for _, name := range []string{"engine", "rclone", "ceiling"} {
		if m, ok := med[name]; ok {
			_, detail := perObject(m.Requests, n)
			fmt.Fprintf(w, "  %-8s %s\n", name, detail)
		}
	}
	// Ratios from runs of the same round (the contenders ran back to back).
	paired := func(a, b string) []float64 {
		var out []float64
		for i := range min(len(runs[a]), len(runs[b])) {
			out = append(out, runs[b][i].Seconds/runs[a][i].Seconds)
		}
		return out
	}
	vsCeil, vsRclone := paired("engine", "ceiling"), paired("engine", "rclone")
	var worstRSS int64
	var reqs []float64
	for _, r := range runs["engine"] {
		worstRSS = max(worstRSS, r.MaxRSSKiB)
		t, _ := perObject(r.Requests, n)
		reqs = append(reqs, t)
	}
	fmt.Fprintln(w, "\ngoals, ratios paired within each round: median [min, max]")
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	rng := func(xs []float64) string {
		return fmt.Sprintf("%.3fx [%.2f, %.2f]", median(xs), slices.Min(xs), slices.Max(xs))
	}
	if len(vsCeil) > 0 {
		fmt.Fprintf(w, "  objects/s >= 0.9x the ceiling         %s %s\n", verdict(median(vsCeil) >= 0.9), rng(vsCeil))
		fmt.Fprintf(w, "  objects/s >= 1.5x rclone              %s %s\n", verdict(median(vsRclone) >= 1.5), rng(vsRclone))
		fmt.Fprintf(w, "  <= 2.5 requests per copied object     %s %.2f (worst run %.2f)\n", verdict(median(reqs) <= 2.5), median(reqs), slices.Max(reqs))
		fmt.Fprintf(w, "  peak RSS <= 32 MiB                    %s %.0f MiB (worst run)\n", verdict(worstRSS <= 32<<10), float64(worstRSS)/1024)
	}
	printColdStart(w, cold)
	printInterferenceSmall(w, runs)
	fmt.Fprintf(w, "\nwhole run (build, MinIO start, seeding, every copy and check): %s\n", info.elapsed.Round(time.Second))
}

func printInterferenceSmall(w io.Writer, runs map[string][]smallRun) {
	var other, seconds float64
	for _, rs := range runs {
		for _, r := range rs {
			other += r.CPUOther
			seconds += r.Seconds
		}
	}
	if seconds > 0 && other/seconds > 0.2 {
		fmt.Fprintf(w, "\nWARNING: other processes kept %.1f of %d CPUs busy during the measurements; the ratios are noisy, rerun on a quiet machine.\n", other/seconds, runtime.NumCPU())
	}
}
