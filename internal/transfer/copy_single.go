package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// copySingle copies an object of at most one part with one PutObject. The
// object is read into a pool buffer first so its CRC32C is checked against
// the source before anything is written, and S3 checks it again on receipt.
func (e *Engine) copySingle(ctx context.Context, key string, obj SourceObject, res Result) (Result, error) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < e.stopMargin {
		res.Outcome = OutcomeSuspended // too late to start; try again from scratch
		return res, nil
	}
	buf, err := e.buffers.get(ctx, obj.Size)
	if err != nil {
		return res, fmt.Errorf("copy %q: wait for buffer: %w", key, err)
	}
	defer e.buffers.put(buf)

	err = e.retry.do(ctx, func() error { return e.readRange(ctx, key, obj, 0, buf) })
	if err != nil {
		return res, err
	}
	crc := crc32.Checksum(buf, castagnoli)
	if err := verifyWhole(key, obj, crc, int64(len(buf))); err != nil {
		return res, err
	}

	h := headersFor(obj)
	err = e.retry.do(ctx, func() error {
		_, err := e.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket:             &e.bucket,
			Key:                &key,
			Body:               bytes.NewReader(buf),
			ContentLength:      aws.Int64(int64(len(buf))),
			ChecksumAlgorithm:  types.ChecksumAlgorithmCrc32c,
			ChecksumCRC32C:     aws.String(encodeCRC32C(crc)),
			IfNoneMatch:        ifNoneMatchAny,
			ContentType:        h.ContentType,
			CacheControl:       h.CacheControl,
			ContentEncoding:    h.ContentEncoding,
			ContentDisposition: h.ContentDisposition,
			ContentLanguage:    h.ContentLanguage,
			Metadata:           h.Metadata,
		}, unsignedPayload)
		return err
	})
	if isPreconditionFailed(err) {
		res.Outcome = OutcomeRaced
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("put %q: %w", key, err)
	}
	res.Outcome, res.Bytes = OutcomeCopied, int64(len(buf))
	return res, nil
}

// readRange fills buf with the source bytes starting at off. A response
// that stops delivering bytes for ReadIdleTimeout is abandoned as
// errStalled (retryable): a half-dead connection would otherwise hold the
// part until the invocation's deadline.
func (e *Engine) readRange(ctx context.Context, key string, obj SourceObject, off int64, buf []byte) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(e.readIdleTimeout, func() { cancel(errStalled) })
	defer idle.Stop()

	body, err := e.source.Get(ctx, key, obj, off, int64(len(buf)))
	if err == nil {
		defer body.Close()
		_, err = io.ReadFull(progressReader{body, func() { idle.Reset(e.readIdleTimeout) }}, buf)
	}
	if context.Cause(ctx) == errStalled {
		return fmt.Errorf("read source %q at %d: %w", key, off, errStalled)
	}
	if err != nil {
		return fmt.Errorf("read source %q at %d: %w", key, off, err)
	}
	return nil
}

// errStalled: no byte arrived from the source for ReadIdleTimeout.
var errStalled = errors.New("source stopped sending")

// progressReader calls progress after every read that returned bytes.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}
