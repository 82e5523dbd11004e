package transfer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

func TestCopySizesAcrossThePartBoundary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	eng := e.engine(nil)
	cases := []struct {
		name      string
		size      int
		multipart bool
	}{
		{"zero bytes", 0, false},
		{"one byte", 1, false},
		{"exactly one part", minPartSize, false},
		{"one part plus one byte", minPartSize + 1, true},
	}
	for i, c := range cases {
		key := "sizes/" + strings.ReplaceAll(c.name, " ", "-")
		data := randomBytes(c.size, uint64(i))
		gen := e.put(standin.GCSObject{Key: key, Content: data, ContentType: "application/octet-stream"})
		before := e.uploadCalls.Load()
		res := e.mustCopy(eng, key, OutcomeCopied)
		got, head := e.object(key)
		assertSameBytes(t, got, data)
		if res.Bytes != int64(c.size) || aws.ToInt64(head.ContentLength) != int64(c.size) {
			t.Errorf("%s: result %d bytes, S3 length %d, want %d", c.name, res.Bytes, aws.ToInt64(head.ContentLength), c.size)
		}
		if head.Metadata[SourceGenerationMetadataKey] != gen {
			t.Errorf("%s: source-generation %q, want %q", c.name, head.Metadata[SourceGenerationMetadataKey], gen)
		}
		if parts := e.uploadCalls.Load() - before; (parts > 0) != c.multipart {
			t.Errorf("%s: %d UploadPart calls, multipart want %v", c.name, parts, c.multipart)
		}
		if want := encodeCRC32C(crc32.Checksum(data, castagnoli)); aws.ToString(head.ChecksumCRC32C) != want {
			t.Errorf("%s: S3 CRC32C %q, want %q", c.name, aws.ToString(head.ChecksumCRC32C), want)
		}
	}
}

func TestCopy100MiBMultipartWithFullObjectChecksum(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	eng := e.engine(func(c *Config) { c.PartConcurrency = 8 })
	data := randomBytes(100<<20, 100)
	e.put(standin.GCSObject{Key: "big/100MiB.bin", Content: data})
	res := e.mustCopy(eng, "big/100MiB.bin", OutcomeCopied)
	got, head := e.object("big/100MiB.bin")
	assertSameBytes(t, got, data)
	if res.Parts != 20 || e.uploadCalls.Load() != 20 {
		t.Errorf("parts uploaded %d, UploadPart calls %d, want 20", res.Parts, e.uploadCalls.Load())
	}
	if head.ChecksumType != types.ChecksumTypeFullObject || aws.ToString(head.ChecksumCRC32C) != encodeCRC32C(crc32.Checksum(data, castagnoli)) {
		t.Errorf("S3 checksum %q type %q, want the full-object CRC32C", aws.ToString(head.ChecksumCRC32C), head.ChecksumType)
	}
	e.assertNoUploads("big/100MiB.bin")
}

func TestCopyAwkwardKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	eng := e.engine(nil)
	// 1024 bytes; segments stay under 255 bytes because the S3 stand-in
	// stores each segment as a file name (S3 itself has no such limit).
	long := "long"
	for len(long) < MaxKeyBytes-200 {
		long += "/" + strings.Repeat("é", 99)
	}
	long += "/" + strings.Repeat("k", MaxKeyBytes-len(long)-1)
	keys := []string{
		"with space/a b.txt",
		"unicode/日本語/ファイル.png",
		"plus/a+b+c.txt",
		"percent/100%25 literal %2F not a slash %",
		"mixed/ a+b %20?#&=;.txt",
		long,
	}
	if len(long) != MaxKeyBytes {
		t.Fatalf("long key is %d bytes", len(long))
	}
	for i, key := range keys {
		data := []byte("content of " + key)
		e.put(standin.GCSObject{Key: key, Content: data, ContentType: "text/plain"})
		// A sibling whose name differs only by escaping must not be read instead.
		e.put(standin.GCSObject{Key: key + "-decoy", Content: []byte{byte(i)}})
		e.mustCopy(eng, key, OutcomeCopied)
		got, _ := e.object(key)
		assertSameBytes(t, got, data)
	}
}

func TestCopyGzipObjectKeepsStoredBytesAndEncoding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	eng := e.engine(nil)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(bytes.Repeat([]byte("compressible text "), 50000))
	w.Close()
	for _, key := range []string{"gz/small.txt", "gz/multipart.txt"} {
		stored := gz.Bytes()
		if key == "gz/multipart.txt" { // make the stored object span parts
			stored = append(append([]byte{}, stored...), randomBytes(minPartSize, 7)...)
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(stored)
			zw.Close()
			stored = b.Bytes()
		}
		e.put(standin.GCSObject{Key: key, Content: stored, ContentType: "text/plain", ContentEncoding: "gzip"})
		e.mustCopy(eng, key, OutcomeCopied)
		got, head := e.object(key)
		assertSameBytes(t, got, stored)
		if aws.ToString(head.ContentEncoding) != "gzip" || aws.ToString(head.ContentType) != "text/plain" {
			t.Errorf("%s: Content-Encoding %q Content-Type %q, want gzip text/plain", key, aws.ToString(head.ContentEncoding), aws.ToString(head.ContentType))
		}
	}
}

func TestCopyKeepsMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	eng := e.engine(nil)
	for _, size := range []int{10, minPartSize + 10} {
		key := "meta/" + strings.Repeat("m", size%7+1)
		gen := e.put(standin.GCSObject{
			Key: key, Content: randomBytes(size, 3),
			ContentType: "image/png", CacheControl: "public, max-age=3600",
			ContentDisposition: `attachment; filename="a.png"`, ContentLanguage: "fr",
			Metadata: map[string]string{"Owner": "team-a", "checksum-sha1": "abc"},
		})
		e.mustCopy(eng, key, OutcomeCopied)
		_, head := e.object(key)
		want := map[string]string{
			"Content-Type":        "image/png",
			"Cache-Control":       "public, max-age=3600",
			"Content-Disposition": `attachment; filename="a.png"`,
			"Content-Language":    "fr",
		}
		got := map[string]string{
			"Content-Type":        aws.ToString(head.ContentType),
			"Cache-Control":       aws.ToString(head.CacheControl),
			"Content-Disposition": aws.ToString(head.ContentDisposition),
			"Content-Language":    aws.ToString(head.ContentLanguage),
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("size %d: %s %q, want %q", size, k, got[k], v)
			}
		}
		wantMeta := map[string]string{"owner": "team-a", "checksum-sha1": "abc", SourceGenerationMetadataKey: gen}
		for k, v := range wantMeta {
			if head.Metadata[k] != v {
				t.Errorf("size %d: metadata %s = %q, want %q (all: %v)", size, k, head.Metadata[k], v, head.Metadata)
			}
		}
	}
}

func TestCopySourceMissingWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	res, err := e.engine(nil).Copy(context.Background(), "nowhere.txt", nil)
	if err != nil || res.Outcome != OutcomeSourceMissing {
		t.Fatalf("outcome %q, error %v; want source-missing", res.Outcome, err)
	}
	e.assertAbsent("nowhere.txt")
}

func TestCopySkipsExistingDestinationWithoutOverwriting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.put(standin.GCSObject{Key: "exists.txt", Content: []byte("from gcs")})
	if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &e.dstBucket, Key: aws.String("exists.txt"), Body: strings.NewReader("already in s3")}); err != nil {
		t.Fatal(err)
	}
	e.mustCopy(e.engine(nil), "exists.txt", OutcomeSkipped)
	got, _ := e.object("exists.txt")
	assertSameBytes(t, got, []byte("already in s3"))
}

func TestCopyRetriesInjectedErrorsAndDroppedConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(3*minPartSize+123, 11)
	e.put(standin.GCSObject{Key: "flaky.bin", Content: data})
	small := []byte("small flaky object")
	e.put(standin.GCSObject{Key: "flaky-small.txt", Content: small})
	var heads int
	var mu sync.Mutex
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		if r.Method == http.MethodHead {
			mu.Lock()
			defer mu.Unlock()
			if heads++; heads%2 == 1 {
				return standin.Fault{Status: http.StatusServiceUnavailable} // every first HEAD of a key fails
			}
			return standin.Fault{}
		}
		switch n { // GET 1 tells the object's size; the faults hit its parts
		case 2, 3:
			return standin.Fault{Status: http.StatusInternalServerError}
		case 4:
			return standin.Fault{Status: http.StatusTooManyRequests}
		case 5, 7:
			return standin.Fault{DropAt: 1000} // connection cut mid-body
		}
		return standin.Fault{}
	})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 2 })
	e.mustCopy(eng, "flaky.bin", OutcomeCopied)
	got, _ := e.object("flaky.bin")
	assertSameBytes(t, got, data)
	e.mustCopy(eng, "flaky-small.txt", OutcomeCopied)
	got, _ = e.object("flaky-small.txt")
	assertSameBytes(t, got, small)
}

func TestCopyAbandonsAndRetriesAStalledRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(2*minPartSize+9, 12)
	e.put(standin.GCSObject{Key: "stalled.bin", Content: data})
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		return standin.Fault{StallAt: map[int]int64{2: 4096}[n]} // the first part's GET goes silent mid-body (GET 1 told the size)
	})
	// Without the idle timeout the copy would hang on the silent response
	// until this context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng := e.engine(func(c *Config) { c.ReadIdleTimeout = 300 * time.Millisecond; c.StopMargin = time.Millisecond })
	if res, err := eng.Copy(ctx, "stalled.bin", nil); err != nil || res.Outcome != OutcomeCopied {
		t.Fatalf("outcome %q error %v: the stalled read was not abandoned and retried", res.Outcome, err)
	}
	got, _ := e.object("stalled.bin")
	assertSameBytes(t, got, data)
}

func TestCopyGivesUpOnPersistentSourceErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.put(standin.GCSObject{Key: "down.bin", Content: randomBytes(2*minPartSize, 5)})
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		if r.Method == http.MethodGet {
			return standin.Fault{Status: http.StatusBadGateway}
		}
		return standin.Fault{}
	})
	_, err := e.engine(nil).Copy(context.Background(), "down.bin", nil)
	var se *SourceStatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadGateway {
		t.Fatalf("want the source's 502 after bounded retries, got %v", err)
	}
	e.assertAbsent("down.bin")
}

// Once parts are in S3, running out of retries suspends the copy (the
// handler re-enqueues it) instead of failing it towards the dead-letter
// queue and throwing the parts away.
func TestPersistentErrorsAfterProgressSuspendInsteadOfFailing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(3*minPartSize, 6)
	e.put(standin.GCSObject{Key: "half-down.bin", Content: data})
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		if n >= 3 { // GET 1 told the size, GET 2 was part 1
			return standin.Fault{Status: http.StatusServiceUnavailable}
		}
		return standin.Fault{}
	})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 1 }) // part 1 is in S3 before part 2 is tried
	res, err := eng.Copy(context.Background(), "half-down.bin", nil)
	if err != nil || res.Outcome != OutcomeSuspended || res.Resume == nil || res.Parts != 1 {
		t.Fatalf("outcome %q parts %d resume %+v error %v; want suspended after 1 part", res.Outcome, res.Parts, res.Resume, err)
	}
	e.proxy.OnRequest(nil)
	res, err = eng.Copy(context.Background(), "half-down.bin", res.Resume)
	if err != nil || res.Outcome != OutcomeCopied || res.Parts != 2 {
		t.Fatalf("continuation: outcome %q parts %d error %v", res.Outcome, res.Parts, err)
	}
	got, _ := e.object("half-down.bin")
	assertSameBytes(t, got, data)
}

func TestCopyChecksumMismatchWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	eng := e.engine(nil)
	wrong := "crc32c=" + encodeCRC32C(crc32.Checksum([]byte("something else"), castagnoli))
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault { return standin.Fault{Hash: wrong} })
	for _, key := range []string{"bad-crc/small", "bad-crc/multipart"} {
		size := 100
		if strings.HasSuffix(key, "multipart") {
			size = 2*minPartSize + 5
		}
		e.put(standin.GCSObject{Key: key, Content: randomBytes(size, 9)})
		_, err := eng.Copy(context.Background(), key, nil)
		if !errors.Is(err, ErrChecksumMismatch) {
			t.Fatalf("size %d: want a checksum mismatch, got %v", size, err)
		}
		e.assertAbsent(key)
	}
	// Bytes corrupted in transit (the origin's checksum is right).
	e.put(standin.GCSObject{Key: "corrupted-in-flight", Content: randomBytes(2*minPartSize+5, 10)})
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		return standin.Fault{FlipByte: strings.HasPrefix(r.Header.Get("Range"), fmt.Sprintf("bytes=%d-", minPartSize))}
	})
	if _, err := eng.Copy(context.Background(), "corrupted-in-flight", nil); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("corrupted part: want a checksum mismatch, got %v", err)
	}
	e.assertAbsent("corrupted-in-flight")
}

func TestCopySourceOverwrittenMidCopy(t *testing.T) {
	t.Parallel()
	for _, versioned := range []bool{true, false} {
		e := newEnv(t, versioned)
		old := randomBytes(4*minPartSize, 20)
		e.put(standin.GCSObject{Key: "moving.bin", Content: old})
		newer := randomBytes(4*minPartSize, 21)
		var once sync.Once
		e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
			if n == 3 { // part 2 (GET 1 told the size)
				once.Do(func() { e.put(standin.GCSObject{Key: "moving.bin", Content: newer}) })
			}
			return standin.Fault{}
		})
		res, err := e.engine(func(c *Config) { c.PartConcurrency = 1 }).Copy(context.Background(), "moving.bin", nil)
		if versioned {
			// The pinned generation stays readable, but it is no longer what
			// GCS serves: the copy is not completed with it and starts over
			// with the newer version, whole.
			if err != nil || res.Outcome != OutcomeCopied {
				t.Fatalf("versioned: outcome %q error %v", res.Outcome, err)
			}
			got, _ := e.object("moving.bin")
			assertSameBytes(t, got, newer)
			e.assertNoUploads("moving.bin")
			continue
		}
		// Without versioning the pinned generation disappears: a clean failure.
		if !errors.Is(err, ErrSourceNotFound) {
			t.Fatalf("unversioned: want the pinned generation to be gone, got %v (outcome %q)", err, res.Outcome)
		}
		e.assertAbsent("moving.bin")
	}
}

func TestConcurrentCopiesOfOneKeyWriteOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	for _, size := range []int{1000, 3 * minPartSize} {
		key := fmt.Sprintf("race/%d", size)
		data := randomBytes(size, uint64(size))
		e.put(standin.GCSObject{Key: key, Content: data})
		// Each copy's first request to the source (its GET, whose headers
		// tell the object) waits until the other copy's has arrived, so both
		// start before either writes: both must reach the conditional write.
		var started sync.WaitGroup
		started.Add(2)
		var firstSeen atomic.Int32
		e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
			if firstSeen.Add(1) > 2 { // parts and the check that the source is still current
				return standin.Fault{}
			}
			return standin.Fault{Before: func() { started.Done(); started.Wait() }}
		})
		// A multipart copy looks for an open upload of the key before it
		// creates one. Each CreateMultipartUpload waits until the other copy
		// sends its own, so both have looked (and found none) before either
		// upload exists: neither joins the other's, and both reach their own
		// conditional Complete. (Holding the listings instead was not enough:
		// one copy's create could reach S3 before the other's listing did.)
		var created sync.WaitGroup
		created.Add(2)
		var createsSeen atomic.Int32
		e.onS3Request(func(r *http.Request) standin.Fault {
			if isCreateUpload(r) && createsSeen.Add(1) <= 2 {
				return standin.Fault{Before: func() { created.Done(); created.Wait() }}
			}
			return standin.Fault{}
		})
		engines := []*Engine{e.engine(nil), e.engine(nil)}
		outcomes := make([]Outcome, 2)
		var wg sync.WaitGroup
		for i := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := engines[i].Copy(context.Background(), key, nil)
				if err != nil {
					t.Errorf("copy %d: %v", i, err)
				}
				outcomes[i] = res.Outcome
			}()
		}
		wg.Wait()
		copied, raced := 0, 0
		for _, o := range outcomes {
			switch o {
			case OutcomeCopied:
				copied++
			case OutcomeRaced:
				raced++
			}
		}
		if copied != 1 || raced != 1 {
			t.Fatalf("size %d: outcomes %v, want one copied and one raced", size, outcomes)
		}
		got, _ := e.object(key)
		assertSameBytes(t, got, data)
		e.assertNoUploads(key)
	}
}

func TestCompleteDoesNotOverwriteAnObjectWrittenMidCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.put(standin.GCSObject{Key: "late.bin", Content: randomBytes(2*minPartSize, 30)})
	var once sync.Once
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		if n == 2 { // the first part's GET: after the destination was found empty, someone else writes the key
			once.Do(func() {
				_, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &e.dstBucket, Key: aws.String("late.bin"), Body: strings.NewReader("winner")})
				if err != nil {
					t.Error(err)
				}
			})
		}
		return standin.Fault{}
	})
	e.mustCopy(e.engine(nil), "late.bin", OutcomeRaced)
	got, _ := e.object("late.bin")
	assertSameBytes(t, got, []byte("winner"))
	e.assertNoUploads("late.bin")
}

// The idle timeout also covers the other direction: an S3 that stops
// taking a part's body holds the source read still, and the part is
// abandoned and sent again instead of waiting for the deadline.
func TestCopyAbandonsAndRetriesAStalledUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(2*minPartSize+9, 13)
	e.put(standin.GCSObject{Key: "stalled-upload.bin", Content: data})
	s3proxy := standin.NewFaultProxy(t, s3Server.Endpoint)
	var stalled atomic.Bool
	s3proxy.OnRequest(func(_ int, r *http.Request) standin.Fault {
		if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") && stalled.CompareAndSwap(false, true) {
			return standin.Fault{StallRequestAt: 64 << 10} // the first part's upload stops being read
		}
		return standin.Fault{}
	})
	client := s3Server.Client(func(o *s3.Options) { o.BaseEndpoint = aws.String(s3proxy.URL) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	eng := e.engine(func(c *Config) {
		c.S3 = client
		c.ReadIdleTimeout = 300 * time.Millisecond
		c.StopMargin = time.Millisecond
	})
	if res, err := eng.Copy(ctx, "stalled-upload.bin", nil); err != nil || res.Outcome != OutcomeCopied {
		t.Fatalf("outcome %q error %v: the stalled upload was not abandoned and retried", res.Outcome, err)
	}
	if !stalled.Load() {
		t.Fatal("no upload was stalled: the test proved nothing")
	}
	got, _ := e.object("stalled-upload.bin")
	assertSameBytes(t, got, data)
}

// A redirect from the source is never followed, not even to a URL that
// serves the very object: it could as well lead to another bucket.
func TestCopyRefusesSourceRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.put(standin.GCSObject{Key: "moved/a.txt", Content: []byte("elsewhere")})
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, e.proxy.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	eng := e.engine(func(c *Config) { c.Source.Endpoint = redirector.URL })
	_, err := eng.Copy(context.Background(), "moved/a.txt", nil)
	var se *SourceStatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusFound || !strings.Contains(err.Error(), e.proxy.URL+"/"+e.srcBucket+"/moved/a.txt") {
		t.Fatalf("error %v, want a 302 naming its Location", err)
	}
	e.assertAbsent("moved/a.txt")
}

// GCS answers 403 for a missing object of a bucket without public listing:
// that is an answer (outcome source-forbidden, its own metric), not a
// failure to retry towards the dead-letter queue. Nothing is written.
func TestSourceForbiddenIsAnOutcomeNotAFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.put(standin.GCSObject{Key: "acl/small.txt", Content: []byte("x")})
	e.put(standin.GCSObject{Key: "acl/big.bin", Content: randomBytes(3*minPartSize, 14)})
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		if strings.HasSuffix(r.URL.Path, "small.txt") || n >= 4 { // the small object's GET; the big one's second part (its GET 2 told the size)
			return standin.Fault{Status: http.StatusForbidden}
		}
		return standin.Fault{}
	})
	for _, key := range []string{"acl/small.txt", "acl/big.bin"} {
		var logs bytes.Buffer
		var reported []string
		eng := e.engine(func(c *Config) {
			c.PartConcurrency = 1
			c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			c.ResultHook = func(_ context.Context, res Result, err error) {
				reported = append(reported, fmt.Sprintf("%s %v", res.Outcome, err))
			}
		})
		res, err := eng.Copy(context.Background(), key, nil)
		if err != nil || res.Outcome != OutcomeSourceForbidden {
			t.Fatalf("%s: outcome %q error %v, want source-forbidden", key, res.Outcome, err)
		}
		e.assertAbsent(key)
		// The Lambda's object line counts this as SourceForbidden, not Failed
		// (transferlambda's TestSourceForbiddenIsCountedApartFromFailures),
		// from what the engine reports: that outcome, and no error.
		if len(reported) != 1 || reported[0] != string(OutcomeSourceForbidden)+" <nil>" {
			t.Fatalf("%s: reported %q, want one source-forbidden result without an error", key, reported)
		}
		if !strings.Contains(logs.String(), "source denied access") {
			t.Fatalf("%s: no line explaining the 403: %s", key, logs.String())
		}
	}
}
