package transfer

import (
	"bytes"
	"context"
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

// readRange fills buf with the source bytes starting at off.
func (e *Engine) readRange(ctx context.Context, key string, obj SourceObject, off int64, buf []byte) error {
	body, err := e.source.Get(ctx, key, obj, off, int64(len(buf)))
	if err != nil {
		return err
	}
	defer body.Close()
	if _, err := io.ReadFull(body, buf); err != nil {
		return fmt.Errorf("read source %q at %d: %w", key, off, err)
	}
	return nil
}
