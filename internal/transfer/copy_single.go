package transfer

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// emptyCRC32C is the CRC32C of no bytes.
const emptyCRC32C = 0

// copySingle copies an object of at most one part with one PutObject whose
// body is the source's response. S3 checks the bytes it receives against a
// CRC32C it is given before it stores anything: the source's own checksum
// when the source publishes one (GCS always does), so bytes that differ from
// what the source stored are refused, not written; else the CRC32C of the
// bytes read, sent as a trailer.
func (e *Engine) copySingle(ctx context.Context, key string, obj SourceObject, res Result, cond writeCondition) (Result, error) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < e.stopMargin {
		res.Outcome = OutcomeSuspended // too late to start; try again from scratch
		return res, nil
	}
	if err := e.streams.Acquire(ctx, 1); err != nil {
		return res, fmt.Errorf("copy %q: wait for a stream: %w", key, err)
	}
	defer e.streams.Release(1)
	// Like a part, the put is cut at deadline-StopMargin/2: a stalled put must
	// not hold the invocation to its deadline, where the runtime would end the
	// whole batch and SQS redeliver every record of it (found by the soak).
	putCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		putCtx, cancel = context.WithDeadline(ctx, deadline.Add(-e.stopMargin/2))
		defer cancel()
	}

	put := e.putStreamed
	if obj.Size == 0 {
		if err := verifyWhole(key, obj, emptyCRC32C, 0); err != nil {
			return res, err
		}
		put = e.putEmpty
	}
	h := headersFor(obj)
	err := e.retry.do(putCtx, func() error { return put(putCtx, key, obj, h, cond) })
	if err != nil && putCtx.Err() != nil && ctx.Err() == nil {
		// Reported as a failure, not a suspension: SQS's redelivery counts
		// towards the dead-letter queue, so a put that always stalls ends there.
		return res, fmt.Errorf("put %q: %w: %w", key, errOutOfTime, err)
	}
	if isPreconditionFailed(err) {
		res.Outcome = OutcomeRaced
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("put %q: %w", key, err)
	}
	res.Outcome, res.Bytes = OutcomeCopied, obj.Size
	return res, nil
}

func (e *Engine) putInput(key string, size int64, h objectHeaders, cond writeCondition) *s3.PutObjectInput {
	return &s3.PutObjectInput{
		Bucket:             &e.bucket,
		Key:                &key,
		ContentLength:      aws.Int64(size),
		IfNoneMatch:        cond.ifNoneMatch(),
		IfMatch:            cond.ifMatchHeader(),
		ContentType:        h.ContentType,
		CacheControl:       h.CacheControl,
		ContentEncoding:    h.ContentEncoding,
		ContentDisposition: h.ContentDisposition,
		ContentLanguage:    h.ContentLanguage,
		Metadata:           h.Metadata,
	}
}

// putEmpty writes a zero-byte object: nothing to read, and its CRC32C is
// that of no bytes.
func (e *Engine) putEmpty(ctx context.Context, key string, _ SourceObject, h objectHeaders, cond writeCondition) error {
	in := e.putInput(key, 0, h, cond)
	in.ChecksumCRC32C = aws.String(encodeCRC32C(emptyCRC32C))
	_, err := e.s3.PutObject(ctx, in, oneAttempt, unsignedPayload)
	return err
}

// putStreamed is one attempt at a PutObject whose body is the source's
// response, checked by S3 against the source's CRC32C (or a trailer).
func (e *Engine) putStreamed(ctx context.Context, key string, obj SourceObject, h objectHeaders, cond writeCondition) error {
	var read *rangeReader
	_, err := e.streamRange(ctx, key, obj, 0, obj.Size, nil, func(ctx context.Context, body *rangeReader) error {
		read = body
		in := e.putInput(key, obj.Size, h, cond)
		in.Body = body
		checksum := withTrailingCRC32C(body)
		if obj.CRC32C != nil {
			in.ChecksumCRC32C = aws.String(encodeCRC32C(*obj.CRC32C))
			checksum = unsignedPayload
		}
		_, err := e.s3.PutObject(ctx, in, oneAttempt, checksum)
		return err
	})
	if crc, whole := read.Sum(); err != nil && whole {
		// Every byte was read, and S3 refused them: say why when the
		// reason is that they are not the bytes the source published.
		if mismatch := verifyWhole(key, obj, crc, obj.Size); mismatch != nil {
			return fmt.Errorf("%w (S3 refused the put: %w)", mismatch, err)
		}
	}
	return err
}
