package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// emptyCRC32C is the CRC32C of no bytes.
const emptyCRC32C = 0

// errLarger: the object the first GET opened needs a multipart upload.
var errLarger = errors.New("larger than one part")

// copyOpened copies a key this call knows nothing about yet (no resume):
// one GET of the current version whose response headers say what a HEAD
// would (size, generation, x-goog-hash, object headers) and, when the object
// fits one PutObject, whose body is that PutObject's. Source and destination
// then cost one request each, and nothing waits for a HEAD's round trip.
//
// An object larger than a part comes back with larger == true and its GET
// closed after the headers: copyMultipart reads it in ranged parts pinned to
// obj's version. That wastes the bytes already in flight (socket buffers,
// not the object) and one GET per large object; carrying the open response
// into part 1 would save that GET but hold a stream open across the
// destination HEAD, the upload listing and CreateMultipartUpload, for a
// few per cent of objects whose copies take hundreds of requests' worth of
// time anyway.
//
// The write is conditional like every write (If-None-Match: *, or If-Match
// for a refresh), so no destination HEAD is needed to keep an existing
// object (see checkDestinationFirst).
func (e *Engine) copyOpened(ctx context.Context, key string, res Result, cond writeCondition) (obj SourceObject, larger bool, _ Result, _ error) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < e.stopMargin {
		res.Outcome = OutcomeSuspended // too late to start; try again from scratch
		return obj, false, res, nil
	}
	if err := e.streams.Acquire(ctx, 1); err != nil {
		return obj, false, res, fmt.Errorf("copy %q: wait for a stream: %w", key, err)
	}
	defer e.streams.Release(1)
	putCtx, cancel := e.putDeadline(ctx)
	defer cancel()

	err := e.retry.do(putCtx, func() error {
		larger = false
		_, err := e.stream(putCtx, key, 0, nil, func(ctx context.Context) (io.ReadCloser, int64, error) {
			o, body, err := e.source.Open(ctx, key)
			if err != nil {
				return nil, 0, err
			}
			obj = o
			if o.Size > e.partSize {
				body.Close()
				return nil, 0, errLarger
			}
			return body, o.Size, nil
		}, func(ctx context.Context, body *rangeReader) error {
			return e.putOne(ctx, key, obj, body, cond)
		})
		if errors.Is(err, errLarger) {
			larger = true
			return nil
		}
		return err
	})
	res.Size, res.Generation = obj.Size, obj.Generation
	switch {
	case err != nil && errors.Is(err, ErrSourceNotFound):
		res.Outcome = OutcomeSourceMissing
		return obj, false, res, nil
	case isPreconditionFailed(err):
		res.Outcome = e.whyRefused(ctx, key, obj, cond)
		return obj, false, res, nil
	case err != nil:
		return obj, false, res, putError(ctx, putCtx, key, err)
	case larger:
		return obj, true, res, nil
	}
	res.Outcome, res.Bytes = OutcomeCopied, obj.Size
	return obj, false, res, nil
}

// whyRefused names the outcome of a conditional write refused because the
// key exists, when no HEAD looked before: raced when the object there is the
// version this copy read (another copy of it got there first), skipped when
// it is anything else. The HEAD runs only on this rare path; the key is
// there either way, so a failed HEAD still means skipped.
func (e *Engine) whyRefused(ctx context.Context, key string, obj SourceObject, cond writeCondition) Outcome {
	if cond.ifMatch != "" {
		// A refresh lost to a write made since its check: that object
		// stays as it is.
		e.log.InfoContext(ctx, "refresh: the object changed in S3 since it was found stale; nothing written", "key", key)
		return OutcomeRaced
	}
	var out *s3.HeadObjectOutput
	err := e.retry.do(ctx, func() (err error) {
		out, err = e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key}, oneAttempt)
		return err
	})
	if err != nil {
		return OutcomeSkipped
	}
	if obj.Generation != "" && out.Metadata[SourceGenerationMetadataKey] == obj.Generation ||
		obj.Generation == "" && obj.ETag != "" && aws.ToString(out.ETag) == obj.ETag {
		return OutcomeRaced
	}
	return OutcomeSkipped
}

// copySingle copies an object of at most one part, whose version a HEAD
// found (a continuation whose object shrank), with one PutObject whose body
// is a GET pinned to that version.
func (e *Engine) copySingle(ctx context.Context, key string, obj SourceObject, res Result, cond writeCondition) (Result, error) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < e.stopMargin {
		res.Outcome = OutcomeSuspended // too late to start; try again from scratch
		return res, nil
	}
	if err := e.streams.Acquire(ctx, 1); err != nil {
		return res, fmt.Errorf("copy %q: wait for a stream: %w", key, err)
	}
	defer e.streams.Release(1)
	putCtx, cancel := e.putDeadline(ctx)
	defer cancel()

	err := e.retry.do(putCtx, func() error {
		_, err := e.streamRange(putCtx, key, obj, 0, obj.Size, nil, func(ctx context.Context, body *rangeReader) error {
			return e.putOne(ctx, key, obj, body, cond)
		})
		return err
	})
	if isPreconditionFailed(err) {
		res.Outcome = e.whyRefused(ctx, key, obj, cond)
		return res, nil
	}
	if err != nil {
		return res, putError(ctx, putCtx, key, err)
	}
	res.Outcome, res.Bytes = OutcomeCopied, obj.Size
	return res, nil
}

// putDeadline cuts a single put at deadline-StopMargin/2, as parts are cut:
// a stalled put must not hold the invocation to its deadline, where the
// runtime would end the whole batch and SQS redeliver every record of it
// (found by the soak).
func (e *Engine) putDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline.Add(-e.stopMargin/2))
	}
	return ctx, func() {}
}

// putError names a put that ran out of its time apart from other failures;
// both are failures, not suspensions: SQS's redelivery counts towards the
// dead-letter queue, so a put that always stalls ends there.
func putError(ctx, putCtx context.Context, key string, err error) error {
	if putCtx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("put %q: %w: %w", key, errOutOfTime, err)
	}
	return fmt.Errorf("put %q: %w", key, err)
}

func (e *Engine) putInput(key string, size int64, h objectHeaders, cond writeCondition) *s3.PutObjectInput {
	in := &s3.PutObjectInput{
		Bucket:        &e.bucket,
		Key:           &key,
		ContentLength: aws.Int64(size),
		IfNoneMatch:   cond.ifNoneMatch(),
		IfMatch:       cond.ifMatchHeader(),
	}
	h.applyPut(in)
	return in
}

// putOne is one attempt at a PutObject whose body is the source's
// response. S3 checks the bytes it receives against a CRC32C it is given
// before it stores anything: the source's own checksum when the source
// publishes one (GCS always does), so bytes that differ from what the
// source stored are refused, not written; else the CRC32C of the bytes
// read, sent as a trailer. A zero-byte object has nothing to read, and its
// CRC32C is that of no bytes.
func (e *Engine) putOne(ctx context.Context, key string, obj SourceObject, body *rangeReader, cond writeCondition) error {
	in := e.putInput(key, obj.Size, headersFor(obj), cond)
	if obj.Size == 0 {
		if err := verifyWhole(key, obj, emptyCRC32C, 0); err != nil {
			return err
		}
		in.ChecksumCRC32C = aws.String(encodeCRC32C(emptyCRC32C))
		_, err := e.s3.PutObject(ctx, in, oneAttempt, unsignedPayload)
		return err
	}
	in.Body = body
	checksum := withTrailingCRC32C(body)
	if obj.CRC32C != nil {
		in.ChecksumCRC32C = aws.String(encodeCRC32C(*obj.CRC32C))
		checksum = unsignedPayload
	}
	_, err := e.s3.PutObject(ctx, in, oneAttempt, checksum)
	if crc, whole := body.Sum(); err != nil && whole {
		// Every byte was read, and S3 refused them: say why when the
		// reason is that they are not the bytes the source published.
		if mismatch := verifyWhole(key, obj, crc, obj.Size); mismatch != nil {
			return fmt.Errorf("%w (S3 refused the put: %w)", mismatch, err)
		}
	}
	return err
}
