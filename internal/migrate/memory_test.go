package migrate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// synthLister is one side of a standin.SyntheticPair as a Lister (and a
// ChildLister, as XMLLister is, so the ranges are cut the same way).
type synthLister struct {
	pair   standin.SyntheticPair
	bucket string
}

func (l synthLister) Name() string { return "synthetic " + l.bucket }

func (l synthLister) ListPage(_ context.Context, prefix, startAfter, token string, pageSize int) ([]Object, string, error) {
	after := startAfter
	if token != "" {
		after = token
	}
	objs := make([]Object, 0, pageSize)
	truncated := l.pair.Walk(l.bucket, prefix, "", after, pageSize, func(o standin.SyntheticObject) {
		objs = append(objs, Object{Key: o.Key, Size: o.Size, ETag: o.ETag})
	}, nil)
	if !truncated {
		return objs, "", nil
	}
	return objs, objs[len(objs)-1].Key, nil
}

func (l synthLister) ListChildren(_ context.Context, prefix string, max int) ([]string, error) {
	objs, prefixes, _ := l.pair.List(l.bucket, prefix, "/", "", max)
	for _, o := range objs {
		prefixes = append(prefixes, o.Key)
	}
	return prefixes, nil
}

// synthS3 is the destination of a standin.SyntheticPair as the SDK's
// ListObjectsV2 would decode it.
type synthS3 struct{ pair standin.SyntheticPair }

var modified = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (c synthS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	after := aws.ToString(in.StartAfter)
	if in.ContinuationToken != nil {
		after = *in.ContinuationToken
	}
	out := &s3.ListObjectsV2Output{}
	truncated := c.pair.Walk(aws.ToString(in.Bucket), aws.ToString(in.Prefix), "", after, int(aws.ToInt32(in.MaxKeys)), func(o standin.SyntheticObject) {
		out.Contents = append(out.Contents, types.Object{Key: aws.String(o.Key), Size: aws.Int64(o.Size), ETag: aws.String(o.ETag), LastModified: aws.Time(modified), StorageClass: types.ObjectStorageClassStandard})
	}, nil)
	out.IsTruncated = aws.Bool(truncated)
	if truncated {
		out.NextContinuationToken = out.Contents[len(out.Contents)-1].Key
	}
	return out, nil
}

func (synthS3) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errors.New("verify of an S3-compatible source HEADs nothing")
}

// memoryPeak is what a sampler saw while Verify ran.
type memoryPeak struct {
	keys       int
	seconds    float64
	live       uint64 // the largest heap the GC found live (/gc/heap/live:bytes)
	heap       uint64 // the largest heap in use, live or not yet collected (/memory/classes/heap/objects:bytes)
	goal       uint64 // the largest heap goal
	runtimeMem uint64 // the largest memory the runtime had mapped (/memory/classes/total:bytes)
	rssPeak    uint64 // VmHWM: the process's peak resident set, reset before the run
	gcs        uint64
	// byTenth: the largest live heap in each tenth of the keys, which
	// tells a heap that grows with the keys from one that merely varies.
	byTenth [10]uint64
}

func (p memoryPeak) String() string {
	mib := func(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }
	return fmt.Sprintf("| %d | %.2f | %.0f | %s | %s | %s | %s | %s | %d |", p.keys, p.seconds, float64(p.keys)/p.seconds,
		mib(p.live), mib(p.heap), mib(p.goal), mib(p.runtimeMem), mib(p.rssPeak), p.gcs)
}

const memoryTableHeader = "| keys | seconds | keys/s | max live heap MiB | max heap MiB | max heap goal MiB | max runtime total MiB | peak RSS MiB | GCs |\n|---|---|---|---|---|---|---|---|---|"

// procStatusKiB reads one field of /proc/self/status given in kB, such as "VmHWM:  N kB" (0
// where there is none).
func procStatusKiB(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// measureMemory runs fn with a sampler reading the runtime's memory
// metrics every few milliseconds, after a GC and a reset of the process's
// peak RSS (writing 5 to clear_refs, Linux 4.0 and later).
func measureMemory(keys int, compared *atomic.Int64, fn func()) memoryPeak {
	runtime.GC()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/gc/cycles/total:gc-cycles"},
	}
	read := func() { metrics.Read(samples) }
	read()
	gcs0 := samples[4].Value.Uint64()
	p := memoryPeak{keys: keys}
	update := func() {
		read()
		p.live = max(p.live, samples[0].Value.Uint64())
		p.heap = max(p.heap, samples[1].Value.Uint64())
		p.goal = max(p.goal, samples[2].Value.Uint64())
		p.runtimeMem = max(p.runtimeMem, samples[3].Value.Uint64())
		tenth := min(int(compared.Load()*10/int64(max(keys, 1))), 9)
		p.byTenth[tenth] = max(p.byTenth[tenth], samples[0].Value.Uint64())
	}
	// The first sample after the reset is the baseline, not the run's.
	stop, done := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				update()
			}
		}
	})
	start := time.Now()
	fn()
	p.seconds = time.Since(start).Seconds()
	close(stop)
	wg.Wait()
	update()
	p.gcs = samples[4].Value.Uint64() - gcs0
	if hwm := procStatusKiB("VmHWM"); hwm > 0 {
		p.rssPeak = hwm << 10
	}
	return p
}

// verifySynthetic runs Verify over a synthetic pair of n keys, as the
// command runs it (16 ranges, a report), through the synthetic Listers or,
// with server set, through XMLLister and the SDK against the synthetic
// listing server, and checks its counts.
func verifySynthetic(t testing.TB, n int, server bool) memoryPeak {
	t.Helper()
	pair := standin.SyntheticPair{Keys: n}
	sides := &Sides{Source: synthLister{pair, standin.SyntheticSource}, Dest: synthS3{pair}, Bucket: standin.SyntheticDest}
	if server {
		srv := standin.StartSyntheticS3(pair)
		defer srv.Close()
		sides = &Sides{
			Source: &XMLLister{Endpoint: srv.Endpoint, Bucket: standin.SyntheticSource, Region: standin.S3Region},
			Dest:   standin.NewS3Client(srv.Endpoint, "synthetic", "synthetic"), Bucket: standin.SyntheticDest,
		}
	}
	report, err := os.CreateTemp(t.TempDir(), "report-*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer report.Close()
	var sum VerifySummary
	var verr error
	var compared atomic.Int64
	peak := measureMemory(n, &compared, func() {
		sum, verr = Verify(context.Background(), sides, VerifyOptions{Report: report, Progress: func(n int64) { compared.Store(n) }})
	})
	if verr != nil {
		t.Fatal(verr)
	}
	want := pair.Counts()
	if got := (standin.SyntheticCounts{Source: int(sum.Source.Objects), Missing: int(sum.Missing.Objects), Stale: int(sum.Stale.Objects), Extra: int(sum.Extra.Objects)}); got != want {
		t.Fatalf("%d keys: verify found %+v, want %+v", n, got, want)
	}
	return peak
}

// TestVerifyMemoryAtScale prints what Verify holds in memory at each size
// of VERIFY_MEMORY_KEYS (comma-separated; skipped without it), through the
// synthetic Listers or, with VERIFY_MEMORY_SERVER=1, the real listers
// against the synthetic listing server. The method is in bench/README.md.
func TestVerifyMemoryAtScale(t *testing.T) {
	sizes := os.Getenv("VERIFY_MEMORY_KEYS")
	if sizes == "" {
		t.Skip("set VERIFY_MEMORY_KEYS=10000,100000,1000000 to measure")
	}
	server := os.Getenv("VERIFY_MEMORY_SERVER") == "1"
	var rows, tenths []string
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("VERIFY_MEMORY_KEYS: %v", err)
		}
		p := verifySynthetic(t, n, server)
		rows = append(rows, p.String())
		var mib []string
		for _, b := range p.byTenth {
			mib = append(mib, strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64))
		}
		tenths = append(tenths, fmt.Sprintf("%d keys: %s", n, strings.Join(mib, " ")))
	}
	t.Logf("largest live heap (MiB) in each tenth of the keys:\n%s", strings.Join(tenths, "\n"))
	t.Logf("server=%v GOGC=%s GOMEMLIMIT=%s\n%s\n%s", server, os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), memoryTableHeader, strings.Join(rows, "\n"))
}

// TestVerifyLiveHeapDoesNotGrowWithTheKeys: at a million keys, anything
// Verify kept per key (a map of keys, a slice of entries, a report held
// in memory) would be live at the end, 1 MiB for every byte per key. What
// may be live is the pages in flight: 16 ranges x 2 sides x 2 pages of
// 1,000 keys (13-14 MiB measured), whatever the bucket's size. The live
// heap is what the GC marked, so the bound holds whatever GOGC,
// GOMEMLIMIT or the machine's load say.
func TestVerifyLiveHeapDoesNotGrowWithTheKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("a million keys take a few seconds")
	}
	p := verifySynthetic(t, 1_000_000, false)
	t.Logf("%s\n%s", memoryTableHeader, p)
	const bound = 24 << 20
	if p.live > bound {
		t.Fatalf("%.1f MiB live at 1M keys, want at most %d MiB: something is kept per key", float64(p.live)/(1<<20), bound>>20)
	}
}
