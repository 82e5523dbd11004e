package transfer

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// fastParts is how many leading parts suspendMidCopy lets through.
const fastParts = 4

// suspendMidCopy runs a copy of key with an invocation deadline the copy
// cannot meet: the first fastParts parts read at full speed, every later
// part hangs at the source until the engine gives up on it. Timing under
// load then only decides when the copy stops, not which parts finish.
func suspendMidCopy(t *testing.T, e *env, eng *Engine, key string) Result {
	t.Helper()
	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		var start int64
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &start); err == nil && start >= fastParts*minPartSize {
			return standin.Fault{Delay: time.Minute}
		}
		return standin.Fault{}
	})
	// The fast parts get the deadline less the callers' 2 s stop margin: 8 s
	// for 20 MiB, which a machine at load average 28 still met (5 s did not).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := eng.Copy(ctx, key, nil)
	e.proxy.OnRequest(nil)
	if err != nil {
		t.Fatalf("copy against the deadline: %v", err)
	}
	if res.Outcome != OutcomeSuspended || res.Resume == nil {
		t.Fatalf("outcome %q resume %+v, want suspended with a resume point", res.Outcome, res.Resume)
	}
	if res.Parts != fastParts {
		t.Fatalf("first invocation uploaded %d parts, want the %d fast ones", res.Parts, fastParts)
	}
	return res
}

func TestCopyResumesAfterDeadlineWithoutResendingParts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	const parts = 13
	data := randomBytes((parts-1)*minPartSize+7, 40)
	gen := e.put(standin.GCSObject{Key: "resume/big.bin", Content: data, ContentType: "video/mp4"})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 2; c.StopMargin = 2 * time.Second })

	first := suspendMidCopy(t, e, eng, "resume/big.bin")
	if first.Resume.Generation != gen || first.Resume.PartSize != minPartSize {
		t.Fatalf("resume point %+v, want generation %s and part size %d", first.Resume, gen, minPartSize)
	}
	listed, err := e.s3.ListParts(context.Background(), &s3.ListPartsInput{Bucket: &e.dstBucket, Key: &first.Key, UploadId: &first.Resume.UploadID})
	if err != nil {
		t.Fatalf("the suspended upload must survive: %v", err)
	}
	if len(listed.Parts) != first.Parts {
		t.Fatalf("S3 lists %d parts, the engine reported %d", len(listed.Parts), first.Parts)
	}

	callsBefore := e.uploadCalls.Load()
	second, err := eng.Copy(context.Background(), "resume/big.bin", first.Resume)
	if err != nil || second.Outcome != OutcomeCopied {
		t.Fatalf("resumed copy: outcome %q, error %v", second.Outcome, err)
	}
	if calls := e.uploadCalls.Load() - callsBefore; calls != int64(parts-first.Parts) || second.Parts != parts-first.Parts {
		t.Fatalf("resumed copy sent %d UploadPart calls (reported %d parts), want only the %d missing", calls, second.Parts, parts-first.Parts)
	}
	e.mu.Lock()
	for n := int32(1); n <= parts; n++ {
		if e.partUploads[n] != 1 {
			t.Errorf("part %d uploaded %d times, want exactly once", n, e.partUploads[n])
		}
	}
	e.mu.Unlock()
	got, head := e.object("resume/big.bin")
	assertSameBytes(t, got, data)
	if *head.ContentType != "video/mp4" || head.Metadata[SourceGenerationMetadataKey] != gen {
		t.Fatalf("metadata lost across invocations: %q %v", *head.ContentType, head.Metadata)
	}
	e.assertNoUploads("resume/big.bin")
}

func TestResumeAfterSourceOverwriteStartsOverWithTheNewVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.put(standin.GCSObject{Key: "resume/moved.bin", Content: randomBytes(12*minPartSize+1, 50)})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 2; c.StopMargin = 2 * time.Second })
	first := suspendMidCopy(t, e, eng, "resume/moved.bin")

	newer := randomBytes(3*minPartSize+1, 51)
	gen := e.put(standin.GCSObject{Key: "resume/moved.bin", Content: newer})
	res, err := eng.Copy(context.Background(), "resume/moved.bin", first.Resume)
	if err != nil || res.Outcome != OutcomeCopied || res.Generation != gen {
		t.Fatalf("outcome %q generation %s error %v, want the new generation %s copied", res.Outcome, res.Generation, err, gen)
	}
	got, _ := e.object("resume/moved.bin")
	assertSameBytes(t, got, newer)
	e.assertNoUploads("resume/moved.bin") // the stale upload was aborted
}

// A continuation whose upload is gone (aborted by a cleanup, or by another
// copy) starts a new upload. S3 models no errors for ListParts, so its
// NoSuchUpload arrives as a generic API error, not *types.NoSuchUpload:
// matching the type made every redelivery fail the same way (found by the
// soak, seed 202).
func TestContinuationWhoseUploadIsGoneStartsOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(7*minPartSize+5, 53)
	e.put(standin.GCSObject{Key: "resume/gone.bin", Content: data})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 2; c.StopMargin = 2 * time.Second })
	first := suspendMidCopy(t, e, eng, "resume/gone.bin")
	if _, err := e.s3.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
		Bucket: &e.dstBucket, Key: aws.String("resume/gone.bin"), UploadId: &first.Resume.UploadID,
	}); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Copy(context.Background(), "resume/gone.bin", first.Resume)
	if err != nil || res.Outcome != OutcomeCopied {
		t.Fatalf("continuation of an aborted upload: outcome %q error %v, want a copy from a new upload", res.Outcome, err)
	}
	got, _ := e.object("resume/gone.bin")
	assertSameBytes(t, got, data)
	e.assertNoUploads("resume/gone.bin")
}

// A part already in the upload counts only if its size is what that part
// must be; anything else (here: part 2 replaced by a wrong-sized body, as
// a confused earlier writer might leave it) is uploaded again.
func TestResumeReuploadsListedPartsOfTheWrongSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(12*minPartSize+3, 70)
	e.put(standin.GCSObject{Key: "resume/odd.bin", Content: data})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 2; c.StopMargin = 2 * time.Second })
	first := suspendMidCopy(t, e, eng, "resume/odd.bin")
	odd := randomBytes(minPartSize+99, 71)
	if _, err := e.s3.UploadPart(context.Background(), &s3.UploadPartInput{
		Bucket: &e.dstBucket, Key: aws.String("resume/odd.bin"), UploadId: &first.Resume.UploadID,
		PartNumber: aws.Int32(2), Body: bytes.NewReader(odd),
		ChecksumCRC32C: aws.String(encodeCRC32C(crc32.Checksum(odd, castagnoli))), // a valid part, wrong size
	}); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Copy(context.Background(), "resume/odd.bin", first.Resume)
	if err != nil || res.Outcome != OutcomeCopied {
		t.Fatalf("resumed copy: outcome %q, error %v", res.Outcome, err)
	}
	if want := 13 - first.Parts + 1; res.Parts != want {
		t.Fatalf("resumed copy uploaded %d parts, want the %d missing plus the wrong-sized one", res.Parts, want)
	}
	got, _ := e.object("resume/odd.bin")
	assertSameBytes(t, got, data)
}

// countingTransport counts the requests of each method sent through it.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// On an origin without generations a suspended copy is pinned to an ETag.
// When the object changed meanwhile, the one HEAD that found the new ETag
// is also the HEAD of the version to copy now: the stale upload is
// aborted and the new version copied, without asking the origin again
// until it checks, before completing, that the version is still current.
func TestResumeOnAnETagOriginAfterOverwriteHeadsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	origin, source := e.s3Origin("etag")
	const key = "resume/etag.bin"
	putOrigin := func(data []byte) string {
		out, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &origin, Key: aws.String(key), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ETag)
	}
	oldETag := putOrigin(randomBytes(3*minPartSize, 70))
	stale, err := e.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &e.dstBucket, Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	newer := randomBytes(2*minPartSize+5, 71)
	putOrigin(newer)

	counter := &countingTransport{next: source.HTTP.Transport, n: map[string]int{}}
	source.HTTP = &http.Client{Transport: counter}
	eng := e.engine(func(c *Config) { c.Source = source })
	res, err := eng.Copy(ctx, key, &Resume{UploadID: aws.ToString(stale.UploadId), Generation: oldETag, PartSize: minPartSize})
	if err != nil || res.Outcome != OutcomeCopied {
		t.Fatalf("outcome %q error %v, want the new version copied", res.Outcome, err)
	}
	got, _ := e.object(key)
	assertSameBytes(t, got, newer)
	e.assertNoUploads(key) // the stale upload was aborted
	// One HEAD finds the version to copy; one more, just before completing,
	// proves it is still the current one.
	if heads := counter.n[http.MethodHead]; heads != 2 {
		t.Errorf("%d HEADs of the origin, want 2", heads)
	}
}

// A continuation that fails before any new part is done must not throw
// away the parts earlier invocations uploaded: it fails (so SQS redelivers
// it and counts the attempt) and keeps the upload for that redelivery.
func TestFailedContinuationKeepsEarlierParts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	const parts = 7
	data := randomBytes((parts-1)*minPartSize+3, 52)
	e.put(standin.GCSObject{Key: "resume/kept.bin", Content: data})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 2; c.StopMargin = 2 * time.Second })
	first := suspendMidCopy(t, e, eng, "resume/kept.bin")

	e.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		if r.Method == http.MethodGet {
			return standin.Fault{Status: http.StatusServiceUnavailable}
		}
		return standin.Fault{}
	})
	if res, err := eng.Copy(context.Background(), "resume/kept.bin", first.Resume); err == nil || res.Outcome != OutcomeFailed {
		t.Fatalf("outcome %q error %v, want a failure for SQS to redeliver", res.Outcome, err)
	}
	e.proxy.OnRequest(nil)

	callsBefore := e.uploadCalls.Load()
	res, err := eng.Copy(context.Background(), "resume/kept.bin", first.Resume)
	if err != nil || res.Outcome != OutcomeCopied {
		t.Fatalf("redelivered continuation: outcome %q error %v", res.Outcome, err)
	}
	if calls := e.uploadCalls.Load() - callsBefore; calls != int64(parts-first.Parts) {
		t.Fatalf("redelivery sent %d UploadPart calls, want only the %d missing: earlier parts were lost", calls, parts-first.Parts)
	}
	got, _ := e.object("resume/kept.bin")
	assertSameBytes(t, got, data)
}

// On a versioned bucket a suspended copy's generation stays readable after
// it is replaced. Completing it would leave S3 with bytes GCS no longer
// serves; the copy checks the current generation first, starts over with
// it, and says so with both generations.
func TestResumeDoesNotFinishAReplacedGeneration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	const key = "resume/replaced.bin"
	oldGen := e.put(standin.GCSObject{Key: key, Content: randomBytes(6*minPartSize+1, 53)})
	var logs syncBuffer
	eng := e.engine(func(c *Config) {
		c.PartConcurrency = 2
		c.StopMargin = 2 * time.Second
		c.Logger = slog.New(slog.NewJSONHandler(io.MultiWriter(&logs, testWriter{t}), nil))
	})
	first := suspendMidCopy(t, e, eng, key)

	newer := randomBytes(5*minPartSize+2, 54)
	newGen := e.put(standin.GCSObject{Key: key, Content: newer})
	res, err := eng.Copy(context.Background(), key, first.Resume)
	if err != nil || res.Outcome != OutcomeCopied || res.Generation != newGen {
		t.Fatalf("outcome %q generation %s error %v, want generation %s copied", res.Outcome, res.Generation, err, newGen)
	}
	got, head := e.object(key)
	assertSameBytes(t, got, newer)
	if head.Metadata[SourceGenerationMetadataKey] != newGen {
		t.Fatalf("source-generation %q, want %s", head.Metadata[SourceGenerationMetadataKey], newGen)
	}
	e.assertNoUploads(key)
	if !strings.Contains(logs.String(), `"copiedGeneration":"`+oldGen+`","currentGeneration":"`+newGen+`"`) {
		t.Fatalf("no line names both generations:\n%s", logs.String())
	}
}

// A message without resume (a viewer's miss, a redelivery after a crash)
// that finds an upload of its key open joins it: the parts already there
// are kept, no second upload is started, and the log line says joined.
func TestCopyWithoutResumeJoinsTheOpenUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	const parts = 9
	const key = "resume/orphan.bin"
	data := randomBytes((parts-1)*minPartSize+5, 55)
	// Written an hour ago: the orphan upload was created well after it,
	// so from this version (see createdFrom).
	e.put(standin.GCSObject{Key: key, Content: data, Updated: time.Now().Add(-time.Hour)})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 2; c.StopMargin = 2 * time.Second })
	first := suspendMidCopy(t, e, eng, key) // its continuation is lost: the upload is an orphan

	var creates atomic.Int32
	e.onS3Request(func(r *http.Request) standin.Fault {
		if isCreateUpload(r) {
			creates.Add(1)
		}
		return standin.Fault{}
	})
	callsBefore := e.uploadCalls.Load()
	res, err := eng.Copy(context.Background(), key, nil)
	if err != nil || res.Outcome != OutcomeCopied || !res.Joined {
		t.Fatalf("outcome %q joined %v error %v, want the open upload joined and completed", res.Outcome, res.Joined, err)
	}
	if creates.Load() != 0 {
		t.Fatalf("%d new uploads: the open one must be joined, not duplicated", creates.Load())
	}
	if calls := e.uploadCalls.Load() - callsBefore; calls != int64(parts-first.Parts) {
		t.Fatalf("%d UploadPart calls, want only the %d missing parts", calls, parts-first.Parts)
	}
	got, _ := e.object(key)
	assertSameBytes(t, got, data)
	e.assertNoUploads(key)
}

// An open upload whose parts are of an older version (no resume says which
// version it holds) is caught by the object's CRC32C before completing:
// the copy starts over instead of failing or completing mixed bytes. Here
// the newer version's Last-Modified is (as a clock between the source and
// S3 could make it) an hour before the upload, so the upload is joined and
// only the CRC32C tells.
func TestJoinedUploadOfAnotherVersionStartsOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	const key = "resume/orphan-old.bin"
	e.put(standin.GCSObject{Key: key, Content: randomBytes(7*minPartSize, 56), Updated: time.Now().Add(-2 * time.Hour)})
	eng := e.engine(func(c *Config) { c.PartConcurrency = 2; c.StopMargin = 2 * time.Second })
	suspendMidCopy(t, e, eng, key)
	newer := randomBytes(7*minPartSize, 57) // same size: every kept part fits
	e.put(standin.GCSObject{Key: key, Content: newer, Updated: time.Now().Add(-time.Hour)})

	res, err := eng.Copy(context.Background(), key, nil)
	if err != nil || res.Outcome != OutcomeCopied {
		t.Fatalf("outcome %q error %v, want the new version copied", res.Outcome, err)
	}
	got, _ := e.object(key)
	assertSameBytes(t, got, newer)
	e.assertNoUploads(key)
}

// An open upload created from an earlier version is never joined, even
// when its parts are byte for byte the current version's: its headers and
// source-generation metadata were fixed when it was created, from the
// version its creator read, and the CRC32C proves bytes only. Found by the
// soak: a CreateMultipartUpload whose response was lost left an upload of
// the old version, the source was overwritten, and the next copy joined it
// and completed the new bytes under the old version's metadata.
func TestOpenUploadOfAnEarlierVersionIsNotJoined(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// when the new version was written, from now: after the orphan
		// upload was created, or (a creator that read the old version
		// just before the overwrite and created its upload later) a
		// little before it
		newer time.Duration
	}{
		{"overwritten after the upload was created", 0},
		{"overwritten just before the upload was created", -2 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false)
			key := "resume/relabelled-" + strconv.Itoa(int(-tc.newer/time.Minute)) + ".bin"
			data := randomBytes(7*minPartSize, 58)
			e.put(standin.GCSObject{Key: key, Content: data, ContentType: "video/mp4", Updated: time.Now().Add(-time.Hour)})
			eng := e.engine(func(c *Config) { c.PartConcurrency = 2; c.StopMargin = 2 * time.Second })
			suspendMidCopy(t, e, eng, key) // its continuation is lost: the upload is an orphan
			// The same bytes, new headers: every kept part is right.
			generation := e.put(standin.GCSObject{Key: key, Content: data, ContentType: "video/webm", Updated: time.Now().Add(tc.newer)})

			res, err := eng.Copy(context.Background(), key, nil)
			if err != nil || res.Outcome != OutcomeCopied || res.Joined {
				t.Fatalf("outcome %q joined %v error %v, want copied into a new upload", res.Outcome, res.Joined, err)
			}
			got, head := e.object(key)
			assertSameBytes(t, got, data)
			if g := head.Metadata[SourceGenerationMetadataKey]; g != generation || aws.ToString(head.ContentType) != "video/webm" {
				t.Fatalf("copy carries generation %s and type %s, want the current version's %s and video/webm", g, aws.ToString(head.ContentType), generation)
			}
			e.assertNoUploads(key)
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger used by several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
