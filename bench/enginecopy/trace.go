package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// tracer records when every S3 call and every source GET ran, to tell where a copy's
// time goes (waiting for the source, for MinIO, or for the complete) without touching
// the engine: it wraps the two things the engine is given, its S3 client and the
// source's HTTP client.
type tracer struct {
	mu    sync.Mutex
	start time.Time
	spans []span
}

type span struct {
	op         string
	begin, end time.Duration
}

func newTracer() *tracer { return &tracer{start: time.Now()} }

func (t *tracer) record(op string, begin time.Time) {
	end := time.Now()
	t.mu.Lock()
	t.spans = append(t.spans, span{op: op, begin: begin.Sub(t.start), end: end.Sub(t.start)})
	t.mu.Unlock()
}

// summary says, per operation, how many ran, their total and longest time, and the
// window from the first start to the last end.
func (t *tracer) summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	type agg struct {
		n                 int
		total, longest    time.Duration
		firstBeg, lastEnd time.Duration
	}
	byOp := map[string]*agg{}
	for _, s := range t.spans {
		a := byOp[s.op]
		if a == nil {
			a = &agg{firstBeg: s.begin}
			byOp[s.op] = a
		}
		d := s.end - s.begin
		a.n++
		a.total += d
		a.longest = max(a.longest, d)
		a.firstBeg = min(a.firstBeg, s.begin)
		a.lastEnd = max(a.lastEnd, s.end)
	}
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return byOp[ops[i]].firstBeg < byOp[ops[j]].firstBeg })
	var b strings.Builder
	for _, op := range ops {
		a := byOp[op]
		fmt.Fprintf(&b, "%-24s n=%-3d total %6.2fs  longest %5.2fs  window %5.2fs..%5.2fs\n",
			op, a.n, a.total.Seconds(), a.longest.Seconds(), a.firstBeg.Seconds(), a.lastEnd.Seconds())
	}
	return b.String()
}

// tracedS3 times every call the engine makes to S3.
type tracedS3 struct {
	transfer.S3API
	t *tracer
}

func (c tracedS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	defer c.t.record("s3 HeadObject", time.Now())
	return c.S3API.HeadObject(ctx, in, o...)
}

func (c tracedS3) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	defer c.t.record("s3 PutObject", time.Now())
	return c.S3API.PutObject(ctx, in, o...)
}

func (c tracedS3) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	defer c.t.record("s3 CreateMultipartUpload", time.Now())
	return c.S3API.CreateMultipartUpload(ctx, in, o...)
}

func (c tracedS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	defer c.t.record("s3 UploadPart", time.Now())
	return c.S3API.UploadPart(ctx, in, o...)
}

func (c tracedS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	defer c.t.record("s3 Complete", time.Now())
	return c.S3API.CompleteMultipartUpload(ctx, in, o...)
}

// tracedTransport times each source request from send to the end of its body.
type tracedTransport struct {
	next http.RoundTripper
	t    *tracer
}

func (tr tracedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	begin := time.Now()
	resp, err := tr.next.RoundTrip(req)
	if err != nil {
		tr.t.record("source "+req.Method+" (error)", begin)
		return nil, err
	}
	resp.Body = &tracedBody{ReadCloser: resp.Body, op: "source " + req.Method, begin: begin, t: tr.t}
	return resp, nil
}

type tracedBody struct {
	io.ReadCloser
	op    string
	begin time.Time
	t     *tracer
	once  sync.Once
}

func (b *tracedBody) Close() error {
	b.once.Do(func() { b.t.record(b.op, b.begin) })
	return b.ReadCloser.Close()
}
