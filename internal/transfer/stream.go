package transfer

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Source bytes are never held in memory as a whole part: each upload's body
// is the source's response itself, checksummed on the way through. A part
// therefore costs a few small copy buffers instead of PartSize bytes, and no
// fresh memory has to be faulted in before the first byte can move (on the
// Firecracker VM the bench runs on that cost about 3 ms per MiB; Lambda
// runs on Firecracker too).

// rangeReader is the source's response for bytes [off, off+want): it hands
// out exactly want bytes, computes their CRC32C as they pass, and reports
// every read that moved bytes as progress.
//
// The HTTP client may still be reading a request body after the call has
// returned (a server can answer before it has read it all), so other
// goroutines learn the result only through Sum, which is final once the
// last byte has passed.
type rangeReader struct {
	body     io.Reader
	want     int64
	n        int64
	crc      uint32
	progress func(n int)
	whole    atomic.Bool // every byte has passed; crc is final
}

// Sum returns the CRC32C of the whole range, or ok == false while bytes
// are still missing (or for no reader at all).
func (r *rangeReader) Sum() (crc uint32, ok bool) {
	if r == nil || !r.whole.Load() {
		return 0, false
	}
	return r.crc, true
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.n == r.want {
		return 0, io.EOF
	}
	if rest := r.want - r.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.body.Read(p)
	if n > 0 {
		r.crc = crc32.Update(r.crc, castagnoli, p[:n])
		r.n += int64(n)
		if r.n == r.want {
			r.whole.Store(true)
		}
		r.progress(n)
	}
	if err == io.EOF && r.n < r.want {
		err = io.ErrUnexpectedEOF // the source stopped short of what it announced
	}
	return n, err
}

// errStalled: no byte moved from the source to the destination for
// ReadIdleTimeout, in either direction's fault.
var errStalled = errors.New("source stopped sending")

// streamRange opens bytes [off, off+n) of the pinned source version and
// runs upload with them as its body. It returns the CRC32C of the bytes the
// upload consumed. Every byte read is added to moved, when given, whether
// or not the part then completes.
func (e *Engine) streamRange(ctx context.Context, key string, obj SourceObject, off, n int64, moved *atomic.Int64, upload func(context.Context, *rangeReader) error) (uint32, error) {
	return e.stream(ctx, key, off, moved, func(ctx context.Context) (io.ReadCloser, int64, error) {
		body, err := e.source.Get(ctx, key, obj, off, n)
		return body, n, err
	}, upload)
}

// stream runs upload with the body open returns (n bytes) as its body. A
// transfer that moves no byte for ReadIdleTimeout (a silent source, or a
// destination that stopped reading), opening included, is abandoned with
// errStalled, which is retryable: a half-dead connection would otherwise
// hold the part until the invocation's deadline.
func (e *Engine) stream(ctx context.Context, key string, off int64, moved *atomic.Int64, open func(context.Context) (io.ReadCloser, int64, error), upload func(context.Context, *rangeReader) error) (uint32, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(e.readIdleTimeout, func() { cancel(errStalled) })
	defer idle.Stop()

	body, n, err := open(ctx)
	var r *rangeReader
	if err == nil {
		defer body.Close()
		r = &rangeReader{body: body, want: n, progress: func(n int) {
			idle.Reset(e.readIdleTimeout)
			if moved != nil {
				moved.Add(int64(n))
			}
		}}
		if n == 0 {
			r.whole.Store(true) // nothing to read: the CRC32C of no bytes is final
		}
		err = upload(ctx, r)
	}
	if err != nil && context.Cause(ctx) == errStalled {
		return 0, fmt.Errorf("copy %q at %d: %w", key, off, errStalled)
	}
	if err != nil {
		return 0, err
	}
	crc, whole := r.Sum()
	if !whole { // the upload succeeded without reading the whole range: never expected
		return 0, fmt.Errorf("copy %q at %d: upload succeeded before all %d bytes were read", key, off, n)
	}
	return crc, nil
}

// withTrailingCRC32C sends an upload's body aws-chunked with the body's
// CRC32C as a trailer (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER),
// so S3 verifies bytes whose checksum is known only once the last of them
// has passed. The SDK has the same encoder but uses it only over HTTPS and
// only for a checksum it computes itself; the engine needs it over plain
// HTTP too (S3-compatible servers, the tests' stand-ins) and wants the one
// CRC it combines into the object's checksum, so it writes the encoding
// here, in chunks of chunkSize (MinIO refuses chunks over 16 MiB).
func withTrailingCRC32C(body *rangeReader) func(*s3.Options) {
	return func(o *s3.Options) {
		// Keep the SDK's own checksum middleware out: it would add a CRC32
		// of its own, and refuses unseekable bodies over HTTP.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			// Before the payload hash: UnsignedPayload and ComputePayloadSHA256
			// both keep a hash already set, and the signer signs this one.
			return stack.Finalize.Insert(awsChunkedTrailer{body}, "ComputePayloadHash", middleware.Before)
		})
	}
}

type awsChunkedTrailer struct{ body *rangeReader }

func (awsChunkedTrailer) ID() string { return "BackToOriginTrailingCRC32C" }

const (
	chunkSize    = 1 << 20
	trailerName  = "x-amz-checksum-crc32c"
	trailerBytes = len(trailerName) + len(":") + len("AAAAAA==") + len("\r\n")
)

func (m awsChunkedTrailer) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("trailing checksum: unexpected request type %T", in.Request)
	}
	n := m.body.want
	if n == 0 || req.ContentLength != n {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("trailing checksum: body of %d bytes, request of %d", n, req.ContentLength)
	}
	encoded, length := awsChunked(m.body, n, chunkSize)
	req, err := req.SetStream(encoded)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("trailing checksum: %w", err)
	}
	req.ContentLength = length
	// A header line of its own, as the SDK's encoder sends it: S3 and MinIO
	// drop it, and versitygw keeps only the object's own encoding.
	req.Header.Add("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(n, 10))
	req.Header.Set("X-Amz-Trailer", trailerName)
	in.Request = req
	return next.HandleFinalize(v4.SetPayloadHash(ctx, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), in)
}

// awsChunked encodes the n bytes of body as unsigned aws-chunked data:
// chunks of at most size bytes ("<hex length>\r\n<bytes>\r\n"), the
// zero-length chunk, the CRC32C trailer line and a closing CRLF. It returns
// the encoding and its length.
func awsChunked(body *rangeReader, n, size int64) (io.Reader, int64) {
	var parts []io.Reader
	var length int64
	for off := int64(0); off < n; off += size {
		c := min(size, n-off)
		head := strconv.FormatInt(c, 16) + "\r\n"
		parts = append(parts, strings.NewReader(head), io.LimitReader(body, c), strings.NewReader("\r\n"))
		length += int64(len(head)) + c + 2
	}
	parts = append(parts, strings.NewReader("0\r\n"), &lazyTrailer{body: body}, strings.NewReader("\r\n"))
	length += int64(len("0\r\n") + trailerBytes + len("\r\n"))
	return io.MultiReader(parts...), length
}

// lazyTrailer renders the checksum trailer when it is first read, which
// is after the body has been read to its end.
type lazyTrailer struct {
	body *rangeReader
	r    io.Reader
}

func (t *lazyTrailer) Read(p []byte) (int, error) {
	if t.r == nil {
		crc, whole := t.body.Sum()
		if !whole {
			return 0, fmt.Errorf("trailing checksum: body ended after %d of %d bytes", t.body.n, t.body.want)
		}
		t.r = strings.NewReader(trailerName + ":" + encodeCRC32C(crc) + "\r\n")
	}
	return t.r.Read(p)
}
