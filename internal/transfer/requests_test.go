package transfer

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// countRequests counts requests by kind as the proxies in front of the
// stand-ins see them: the source by method (GET range apart), the
// destination by S3 operation.
func countRequests(e *env) (source, dest *proxy.Counts) {
	source, dest = &proxy.Counts{}, &proxy.Counts{}
	e.proxy.OnRequest(func(_ int, r *http.Request) standin.Fault {
		source.Add(proxy.SourceKind(r))
		return standin.Fault{}
	})
	e.onS3Request(func(r *http.Request) standin.Fault {
		dest.Add(proxy.S3Operation(r))
		return standin.Fault{}
	})
	return source, dest
}

func assertRequests(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: requests %v, want %v", what, got, want)
	}
}

// A small object costs one request on each side: the GET whose headers
// tell size, generation, CRC32C and metadata (no source HEAD) and whose body
// is the conditional PutObject's (no destination HEAD, no upload listing).
// A larger one is HEADed at the destination before any part is read.
func TestRequestsPerCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	small := []byte("a small object")
	gen := e.put(standin.GCSObject{Key: "req/small.txt", Content: small, ContentType: "text/plain", Metadata: map[string]string{"owner": "web"}})
	large := randomBytes(2*minPartSize+7, 80)
	e.put(standin.GCSObject{Key: "req/large.bin", Content: large})
	eng := e.engine(nil)
	source, dest := countRequests(e)

	e.mustCopy(eng, "req/small.txt", OutcomeCopied)
	assertRequests(t, "small object, source", source.Take(), map[string]int{"GET": 1})
	assertRequests(t, "small object, destination", dest.Take(), map[string]int{"PutObject": 1})
	got, head := e.object("req/small.txt")
	assertSameBytes(t, got, small)
	if aws.ToString(head.ContentType) != "text/plain" || head.Metadata["owner"] != "web" || head.Metadata[SourceGenerationMetadataKey] != gen {
		t.Errorf("small object: content type %q, metadata %v: the GET's headers did not carry over", aws.ToString(head.ContentType), head.Metadata)
	}

	res := e.mustCopy(eng, "req/large.bin", OutcomeCopied)
	assertRequests(t, "large object, source", source.Take(), map[string]int{"GET": 1, "GET range": 3, "HEAD": 1})
	assertRequests(t, "large object, destination", dest.Take(), map[string]int{
		"HeadObject": 1, "ListMultipartUploads": 1, "CreateMultipartUpload": 1, "UploadPart": 3, "CompleteMultipartUpload": 1,
	})
	if res.Parts != 3 {
		t.Errorf("large object: %d parts, want 3", res.Parts)
	}
	got, _ = e.object("req/large.bin")
	assertSameBytes(t, got, large)
}

// A key already in S3 is never written over, whether the copy looked
// first or not: a small object's PutObject is refused (one HEAD then tells
// skipped from raced), a large object stops at the destination HEAD before
// any upload or part.
func TestExistingKeysCostNoUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.put(standin.GCSObject{Key: "there/small.txt", Content: []byte("from gcs")})
	e.put(standin.GCSObject{Key: "there/large.bin", Content: randomBytes(2*minPartSize+1, 81)})
	for _, key := range []string{"there/small.txt", "there/large.bin"} {
		if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &e.dstBucket, Key: aws.String(key), Body: strings.NewReader("already in s3")}); err != nil {
			t.Fatal(err)
		}
	}
	eng := e.engine(nil)
	source, dest := countRequests(e)

	e.mustCopy(eng, "there/small.txt", OutcomeSkipped)
	assertRequests(t, "small object, source", source.Take(), map[string]int{"GET": 1})
	assertRequests(t, "small object, destination", dest.Take(), map[string]int{"PutObject": 1, "HeadObject": 1})

	e.mustCopy(eng, "there/large.bin", OutcomeSkipped)
	assertRequests(t, "large object, source", source.Take(), map[string]int{"GET": 1})
	assertRequests(t, "large object, destination", dest.Take(), map[string]int{"HeadObject": 1})
	for _, key := range []string{"there/small.txt", "there/large.bin"} {
		got, _ := e.object(key)
		assertSameBytes(t, got, []byte("already in s3"))
		e.assertNoUploads(key)
	}
}
