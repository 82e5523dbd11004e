package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// One S3 and one GCS stand-in serve the whole package; every test gets
// its own buckets, so tests can run in parallel.
var (
	s3Server  *standin.S3Server
	gcsServer *standin.GCS
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "transfer-s3-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	s3Server, err = standin.StartS3(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s3Server.Close()
	gcsServer, err = standin.StartGCS(standin.GCSOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer gcsServer.Close()
	return m.Run()
}

// env is one test's world: a source bucket, a destination bucket, an S3
// client that counts successful UploadPart calls per part number, and a
// proxy between the engine and fake-gcs that can inject faults.
type env struct {
	t         *testing.T
	srcBucket string
	dstBucket string
	s3        *s3.Client // the test's own, straight to the stand-in
	engineS3  *s3.Client // the engine's, through s3Proxy
	proxy     *standin.FaultProxy
	// s3Proxy relays the engine's S3 requests, fails the test for any
	// PutObject or CompleteMultipartUpload without If-None-Match or
	// If-Match, and injects the faults s3Faults chooses.
	s3Proxy  *standin.FaultProxy
	s3Faults atomic.Pointer[func(r *http.Request) standin.Fault]

	mu          sync.Mutex
	partUploads map[int32]int // successful UploadPart calls by part number
	uploadCalls atomic.Int64  // UploadPart attempts
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

func newEnv(t *testing.T, versioned bool) *env {
	t.Helper()
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	name = strings.Trim(name, "-") + fmt.Sprintf("-%04x", rand.IntN(1<<16))
	e := &env{t: t, srcBucket: "src-" + name, dstBucket: "dst-" + name, partUploads: map[int32]int{}}
	gcsServer.CreateBucket(e.srcBucket, versioned)
	if err := s3Server.CreateBucket(context.Background(), e.dstBucket); err != nil {
		t.Fatal(err)
	}
	e.s3 = s3Server.Client()
	e.s3Proxy = standin.NewFaultProxy(t, s3Server.Endpoint)
	e.s3Proxy.OnRequest(e.checkConditionalWrite)
	e.engineS3 = s3Server.Client(func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.s3Proxy.URL)
		o.APIOptions = append(o.APIOptions, e.countUploadParts)
	})
	e.proxy = standin.NewFaultProxy(t, gcsServer.URL)
	return e
}

// checkConditionalWrite is the S3 proxy's plan: every request that can
// create an object (PutObject: a PUT without partNumber; Complete: a POST
// with uploadId) must be conditional, so no engine path can overwrite.
func (e *env) checkConditionalWrite(_ int, r *http.Request) standin.Fault {
	q := r.URL.Query()
	creates := r.Method == http.MethodPut && !q.Has("partNumber") || r.Method == http.MethodPost && q.Has("uploadId")
	if creates && r.Header.Get("If-None-Match") == "" && r.Header.Get("If-Match") == "" {
		e.t.Errorf("unconditional write: %s %s without If-None-Match or If-Match", r.Method, r.URL.Path)
	}
	if f := e.s3Faults.Load(); f != nil {
		return (*f)(r)
	}
	return standin.Fault{}
}

// onS3Request installs the faults the S3 proxy injects (nil: none).
func (e *env) onS3Request(f func(r *http.Request) standin.Fault) {
	if f == nil {
		e.s3Faults.Store(nil)
		return
	}
	e.s3Faults.Store(&f)
}

// s3Origin creates a bucket on the S3 stand-in to serve as a private
// S3-compatible origin (no generations, SigV4 reads) and returns its name
// and a signed Source for it.
func (e *env) s3Origin(prefix string) (string, *Source) {
	e.t.Helper()
	bucket := prefix + "-" + e.dstBucket
	if err := s3Server.CreateBucket(context.Background(), bucket); err != nil {
		e.t.Fatal(err)
	}
	return bucket, &Source{
		Endpoint: s3Server.Endpoint, Bucket: bucket, Region: "us-east-1", HTTP: NewSourceHTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider(s3Server.AccessKeyID, s3Server.SecretAccessKey, ""),
	}
}

func (e *env) countUploadParts(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countUploadParts",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if awsmiddleware.GetOperationName(ctx) != "UploadPart" {
				return next.HandleInitialize(ctx, in)
			}
			e.uploadCalls.Add(1)
			out, md, err := next.HandleInitialize(ctx, in)
			if err == nil {
				e.mu.Lock()
				e.partUploads[aws.ToInt32(in.Parameters.(*s3.UploadPartInput).PartNumber)]++
				e.mu.Unlock()
			}
			return out, md, err
		}), middleware.Before)
}

func (e *env) engine(mod func(*Config)) *Engine {
	e.t.Helper()
	cfg := Config{
		S3:              e.engineS3,
		Bucket:          e.dstBucket,
		Source:          &Source{Endpoint: e.proxy.URL, Bucket: e.srcBucket, HTTP: NewSourceHTTPClient()},
		PartSize:        minPartSize,
		PartConcurrency: 4,
		Retry:           RetryPolicy{Attempts: 5, Base: 5 * time.Millisecond, Max: 50 * time.Millisecond},
		Logger:          testLogger(e.t),
		ResultHook: func(_ context.Context, res Result, err error) {
			e.t.Logf("result of %q: %s, %d bytes, %d parts, error %v", res.Key, res.Outcome, res.Bytes, res.Parts, err)
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	eng, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return eng
}

func (e *env) put(o standin.GCSObject) string {
	e.t.Helper()
	o.Bucket = e.srcBucket
	attrs := gcsServer.MustPutObject(e.t, o)
	return fmt.Sprint(attrs.Generation)
}

// mustCopy runs a copy that must end with want.
func (e *env) mustCopy(eng *Engine, key string, want Outcome) Result {
	e.t.Helper()
	res, err := eng.Copy(context.Background(), key, nil)
	if err != nil {
		e.t.Fatalf("copy %q: %v", key, err)
	}
	if res.Outcome != want {
		e.t.Fatalf("copy %q: outcome %q, want %q", key, res.Outcome, want)
	}
	return res
}

// object returns the destination object's bytes and head, failing the
// test if it is missing.
func (e *env) object(key string) ([]byte, *s3.HeadObjectOutput) {
	e.t.Helper()
	ctx := context.Background()
	head, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.dstBucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		e.t.Fatalf("head destination %q: %v", key, err)
	}
	out, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.dstBucket, Key: &key})
	if err != nil {
		e.t.Fatalf("get destination %q: %v", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		e.t.Fatalf("read destination %q: %v", key, err)
	}
	return body, head
}

// assertAbsent checks that nothing at all was written under key: no
// object and no multipart upload left behind.
func (e *env) assertAbsent(key string) {
	e.t.Helper()
	ctx := context.Background()
	_, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.dstBucket, Key: &key})
	if err == nil {
		e.t.Fatalf("destination has %q, want nothing", key)
	}
	if !errors.As(err, new(*types.NotFound)) {
		e.t.Fatalf("head destination %q: %v", key, err)
	}
	e.assertNoUploads(key)
}

func (e *env) assertNoUploads(key string) {
	e.t.Helper()
	ups, err := e.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &e.dstBucket, Prefix: &key})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		e.t.Fatalf("%d multipart uploads left for %q", len(ups.Uploads), key)
	}
}

func assertSameBytes(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("destination bytes differ: got %d bytes sha256 %x, want %d bytes sha256 %x",
			len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}
