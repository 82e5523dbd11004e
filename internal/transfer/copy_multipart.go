package transfer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// choosePartSize keeps the configured part size unless the object would
// need more than 10,000 parts; then it takes the smallest whole number of
// MiB that fits.
func choosePartSize(size, configured int64) int64 {
	if size <= configured*maxParts {
		return configured
	}
	perPart := (size + maxParts - 1) / maxParts
	return (perPart + mib - 1) / mib * mib
}

type partState struct {
	etag string
	crc  uint32
	size int64
	done bool
}

// copyMultipart copies with a multipart upload: parts are read with ranged
// GETs pinned to one source version and uploaded concurrently, each with
// its CRC32C for S3 to check; the CRCs are combined into the object's
// CRC32C, compared with the source's, and given to S3 as the full-object
// checksum on a conditional (If-None-Match: *) complete.
func (e *Engine) copyMultipart(ctx context.Context, key string, obj SourceObject, up *openUpload, res Result) (Result, error) {
	resumed := up != nil
	if up == nil {
		partSize := choosePartSize(obj.Size, e.partSize)
		id, err := e.createUpload(ctx, key, obj)
		if err != nil {
			return res, err
		}
		up = &openUpload{id: id, partSize: partSize, parts: make([]partState, (obj.Size+partSize-1)/partSize)}
	}
	uploadID, partSize, parts := up.id, up.partSize, up.parts
	version := versionOf(obj)
	suspend := func(r Result) (Result, error) {
		r.Outcome = OutcomeSuspended
		r.Resume = &Resume{UploadID: uploadID, Generation: version, PartSize: partSize}
		return r, nil
	}

	uploaded, bytesUp, err := e.uploadParts(ctx, key, obj, uploadID, partSize, parts)
	res.Parts, res.Bytes = uploaded, bytesUp
	if errors.Is(err, errOutOfTime) {
		return suspend(res)
	}
	if err != nil {
		switch {
		case uploaded > 0 && shouldRetry(err):
			// Progress was made: keep it and continue in a new invocation
			// rather than letting SQS count this towards the dead-letter queue.
			e.log.WarnContext(ctx, "suspending copy after a retryable failure", "key", key, "error", err)
			return suspend(res)
		case resumed && shouldRetry(err):
			// No progress this time, but earlier invocations' parts are in
			// the upload: keep them for SQS's redelivery of this same
			// continuation, which counts towards the dead-letter queue.
			return res, err
		}
		e.abort(ctx, key, uploadID)
		return res, err
	}

	full, total := uint32(0), int64(0)
	for _, p := range parts {
		full = crc32cCombine(full, p.crc, p.size)
		total += p.size
	}
	if err := verifyWhole(key, obj, full, total); err != nil {
		e.abort(ctx, key, uploadID)
		return res, err
	}
	outcome, err := e.complete(ctx, key, uploadID, obj.Size, parts, full)
	if err != nil {
		e.abort(ctx, key, uploadID)
		return res, err
	}
	res.Outcome = outcome
	return res, nil
}

func (e *Engine) createUpload(ctx context.Context, key string, obj SourceObject) (string, error) {
	h := headersFor(obj)
	var out *s3.CreateMultipartUploadOutput
	err := e.retry.do(ctx, func() (err error) {
		out, err = e.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket:             &e.bucket,
			Key:                &key,
			ChecksumAlgorithm:  types.ChecksumAlgorithmCrc32c,
			ChecksumType:       types.ChecksumTypeFullObject,
			ContentType:        h.ContentType,
			CacheControl:       h.CacheControl,
			ContentEncoding:    h.ContentEncoding,
			ContentDisposition: h.ContentDisposition,
			ContentLanguage:    h.ContentLanguage,
			Metadata:           h.Metadata,
		}, oneAttempt)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create multipart upload %q: %w", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// openUpload is a multipart upload a copy writes into, with its part table.
type openUpload struct {
	id       string
	partSize int64
	parts    []partState
}

// resumeUpload returns the upload a suspended copy left open, with the
// parts already in it marked done; nil when there is nothing to continue
// (no resume, or the upload is gone, say aborted by the lifecycle rule).
func (e *Engine) resumeUpload(ctx context.Context, key string, obj SourceObject, resume *Resume) (*openUpload, error) {
	if resume == nil {
		return nil, nil
	}
	parts, err := e.listUploadedParts(ctx, key, obj, resume)
	if errors.As(err, new(*types.NoSuchUpload)) {
		e.log.InfoContext(ctx, "suspended upload is gone; starting over", "key", key, "uploadId", resume.UploadID)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &openUpload{id: resume.UploadID, partSize: resume.PartSize, parts: parts}, nil
}

// listUploadedParts returns the part table of a suspended upload with the
// parts already in S3 marked done. A listed part only counts when its size
// is what this part must be and S3 reports its CRC32C; anything else is
// uploaded again (a re-uploaded part number replaces the old one).
func (e *Engine) listUploadedParts(ctx context.Context, key string, obj SourceObject, resume *Resume) ([]partState, error) {
	if obj.Size == 0 || (obj.Size+resume.PartSize-1)/resume.PartSize > maxParts {
		return nil, fmt.Errorf("resume %q: part size %d does not fit a %d-byte object", key, resume.PartSize, obj.Size)
	}
	parts := make([]partState, (obj.Size+resume.PartSize-1)/resume.PartSize)
	p := s3.NewListPartsPaginator(e.s3, &s3.ListPartsInput{Bucket: &e.bucket, Key: &key, UploadId: &resume.UploadID})
	for p.HasMorePages() {
		var page *s3.ListPartsOutput
		err := e.retry.do(ctx, func() (err error) {
			page, err = p.NextPage(ctx, oneAttempt)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list parts of %q: %w", key, err)
		}
		for _, lp := range page.Parts {
			n := int(aws.ToInt32(lp.PartNumber))
			if n < 1 || n > len(parts) {
				continue
			}
			want := partLen(obj.Size, resume.PartSize, n-1)
			crc, err := decodeCRC32C(aws.ToString(lp.ChecksumCRC32C))
			if aws.ToInt64(lp.Size) != want || err != nil {
				continue
			}
			parts[n-1] = partState{etag: aws.ToString(lp.ETag), crc: crc, size: want, done: true}
		}
	}
	return parts, nil
}

func partLen(size, partSize int64, i int) int64 {
	off := int64(i) * partSize
	return min(partSize, size-off)
}

var errOutOfTime = errors.New("stopping before the invocation deadline")

// uploadParts uploads every part not yet done, at most PartConcurrency at
// a time (bounded again by the streams all copies share). With a deadline on
// ctx it starts no part after deadline-StopMargin and cancels parts still
// running at deadline-StopMargin/2, returning errOutOfTime.
func (e *Engine) uploadParts(ctx context.Context, key string, obj SourceObject, uploadID string, partSize int64, parts []partState) (int, int64, error) {
	stopAt := time.Time{}
	workCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		stopAt = deadline.Add(-e.stopMargin)
		var cancel context.CancelFunc
		workCtx, cancel = context.WithDeadline(ctx, deadline.Add(-e.stopMargin/2))
		defer cancel()
	}
	workCtx, cancelWork := context.WithCancelCause(workCtx)
	defer cancelWork(nil)

	pending := make(chan int, len(parts))
	for i := range parts {
		if !parts[i].done {
			pending <- i
		}
	}
	close(pending)

	var (
		mu       sync.Mutex
		uploaded int
		bytesUp  int64
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancelWork(err)
	}
	for range max(min(e.partConcurrency, len(pending)), 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range pending {
				if workCtx.Err() != nil {
					return
				}
				if !stopAt.IsZero() && time.Now().After(stopAt) {
					return
				}
				p, err := e.copyPart(workCtx, key, obj, uploadID, partSize, i)
				if err != nil {
					if ctx.Err() == nil && context.Cause(workCtx) == context.DeadlineExceeded {
						return // cancelled at the work deadline: the part is simply not done
					}
					fail(err)
					return
				}
				mu.Lock()
				parts[i] = p
				uploaded++
				bytesUp += p.size
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return uploaded, bytesUp, firstErr
	}
	if err := ctx.Err(); err != nil {
		return uploaded, bytesUp, err
	}
	for _, p := range parts {
		if !p.done { // workers stopped for time (outOfTime, or the work deadline hit between parts)
			return uploaded, bytesUp, errOutOfTime
		}
	}
	return uploaded, bytesUp, nil
}

// copyPart streams part i (index from 0) from the source into UploadPart,
// with the part's CRC32C as a trailer for S3 to check. A failure on either
// side retries the whole part, reading it from the source again.
func (e *Engine) copyPart(ctx context.Context, key string, obj SourceObject, uploadID string, partSize int64, i int) (partState, error) {
	if err := e.streams.Acquire(ctx, 1); err != nil {
		return partState{}, err
	}
	defer e.streams.Release(1)
	n := partLen(obj.Size, partSize, i)
	var etag string
	var crc uint32
	err := e.retry.do(ctx, func() (err error) {
		crc, err = e.streamRange(ctx, key, obj, int64(i)*partSize, n, func(ctx context.Context, body *rangeReader) error {
			out, err := e.s3.UploadPart(ctx, &s3.UploadPartInput{
				Bucket:        &e.bucket,
				Key:           &key,
				UploadId:      &uploadID,
				PartNumber:    aws.Int32(int32(i + 1)),
				Body:          body,
				ContentLength: aws.Int64(n),
			}, oneAttempt, withTrailingCRC32C(body))
			if err == nil {
				etag = aws.ToString(out.ETag)
			}
			return err
		})
		return err
	})
	if err != nil {
		return partState{}, fmt.Errorf("upload part %d of %q: %w", i+1, key, err)
	}
	return partState{etag: etag, crc: crc, size: n, done: true}, nil
}

// complete finishes the upload unless the key appeared meanwhile.
func (e *Engine) complete(ctx context.Context, key, uploadID string, size int64, parts []partState, full uint32) (Outcome, error) {
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		completed[i] = types.CompletedPart{
			PartNumber:     aws.Int32(int32(i + 1)),
			ETag:           aws.String(p.etag),
			ChecksumCRC32C: aws.String(encodeCRC32C(p.crc)),
		}
	}
	// Completing can outlive the work deadline: it is quick, and losing it
	// would waste every uploaded part.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	err := e.retry.do(ctx, func() error {
		_, err := e.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          &e.bucket,
			Key:             &key,
			UploadId:        &uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
			ChecksumCRC32C:  aws.String(encodeCRC32C(full)),
			ChecksumType:    types.ChecksumTypeFullObject,
			MpuObjectSize:   aws.Int64(size),
			IfNoneMatch:     ifNoneMatchAny,
		}, oneAttempt)
		return err
	})
	switch {
	case err == nil:
		return OutcomeCopied, nil
	case isPreconditionFailed(err):
		e.abort(ctx, key, uploadID) // S3 keeps the loser's upload; drop its parts
		return OutcomeRaced, nil
	case errors.As(err, new(*types.NoSuchUpload)):
		// A retried complete whose first attempt succeeded finds no upload.
		if exists, herr := e.destinationHas(ctx, key); herr == nil && exists {
			return OutcomeRaced, nil
		}
	}
	return "", fmt.Errorf("complete multipart upload %q: %w", key, err)
}
