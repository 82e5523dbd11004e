package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func (e *Engine) choosePartSize(size int64) int64 { return choosePartSize(size, e.partSize) }

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
func (e *Engine) copyMultipart(ctx context.Context, key string, obj SourceObject, up *openUpload, res Result, cond writeCondition) (Result, error) {
	resumed := up != nil
	if up == nil {
		partSize := e.choosePartSize(obj.Size)
		id, err := e.createUpload(ctx, key, obj)
		if err != nil {
			return res, err
		}
		up = &openUpload{id: id, partSize: partSize, parts: make([]partState, (obj.Size+partSize-1)/partSize)}
	}
	uploadID, partSize, parts := up.id, up.partSize, up.parts
	version := versionOf(obj)
	start := time.Now()
	var moved atomic.Int64 // source bytes read, finished parts or not
	p, err := e.uploadParts(ctx, key, obj, uploadID, partSize, parts, &moved)
	res.Parts, res.Bytes = p.uploaded, p.bytes
	suspend := func(r Result) (Result, error) {
		r.Outcome = OutcomeSuspended
		r.Resume = &Resume{UploadID: uploadID, Generation: version, PartSize: partSize, NoProgress: up.noProgress}
		switch {
		case p.uploaded > 0:
			r.Resume.NoProgress = 0
		case p.started > 0: // parts ran and none finished; an invocation with no time left for any does not count
			r.Resume.NoProgress++
		}
		if r.Resume.NoProgress >= MaxNoProgress {
			streams := max(p.started, 1)
			rate := float64(moved.Load()) / time.Since(start).Seconds() / float64(streams) / 1e6
			r.Outcome = OutcomeNoProgress
			r.Reason = fmt.Sprintf("no part finished within an invocation %d times in a row: part size %d MiB, observed rate %.2f MB/s per stream over %d streams (parts need %.2f MB/s within %s)",
				r.Resume.NoProgress, partSize/mib, rate, streams, float64(partSize)/e.maxPartDuration.Seconds()/1e6, e.maxPartDuration)
		}
		return r, nil
	}
	uploaded := p.uploaded
	if errors.Is(err, errOutOfTime) {
		return suspend(res)
	}
	if err != nil {
		switch {
		case isNoSuchUpload(err):
			// The upload was completed or aborted under this copy: by a second
			// copy of the key that joined it (a redelivery racing a slow
			// invocation) or by a cleanup. The key decides which.
			return e.uploadGone(ctx, key, uploadID, res, err)
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
		if up.adopted { // its earlier parts were of another version
			return res, fmt.Errorf("%w: the parts of the adopted upload are not this version's: %w", errStartOver, err)
		}
		return res, err
	}
	if err := e.sourceStillCurrent(ctx, key, version); err != nil {
		e.abort(ctx, key, uploadID)
		return res, err
	}
	outcome, err := e.complete(ctx, key, uploadID, obj.Size, parts, full, cond)
	if err != nil {
		e.abort(ctx, key, uploadID)
		return res, err
	}
	res.Outcome = outcome
	return res, nil
}

func (e *Engine) createUpload(ctx context.Context, key string, obj SourceObject) (string, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:            &e.bucket,
		Key:               &key,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		ChecksumType:      types.ChecksumTypeFullObject,
	}
	headersFor(obj).applyCreate(in)
	var out *s3.CreateMultipartUploadOutput
	err := e.retry.do(ctx, func() (err error) {
		out, err = e.s3.CreateMultipartUpload(ctx, in, oneAttempt)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create multipart upload %q: %w", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// openUpload is a multipart upload a copy writes into, with its part table.
type openUpload struct {
	id         string
	partSize   int64
	parts      []partState
	noProgress int  // Resume.NoProgress of the invocations before this one
	adopted    bool // found open, not named by a resume: its version is proven only by the final CRC32C
}

// openUpload returns the upload this copy writes into: the one resume
// names, else the one left open for the key (by a copy whose continuation
// is still queued, or by a crash), adopted with the parts already in it;
// nil when there is none and a new one must be created. Never two uploads
// of one key: surplus uploads are aborted, and so is an open upload of an
// object that now fits one PutObject, or whose parts nothing could prove
// (an origin that publishes no CRC32C).
func (e *Engine) openUpload(ctx context.Context, key string, obj SourceObject, resume *Resume) (*openUpload, error) {
	if resume != nil {
		parts, err := e.listUploadedParts(ctx, key, obj, resume.UploadID, resume.PartSize)
		if err == nil {
			return &openUpload{id: resume.UploadID, partSize: resume.PartSize, parts: parts, noProgress: resume.NoProgress}, nil
		}
		if !isNoSuchUpload(err) {
			return nil, err
		}
		e.log.InfoContext(ctx, "suspended upload is gone", "key", key, "uploadId", resume.UploadID)
	}
	uploads, err := e.openUploads(ctx, key)
	if err != nil || len(uploads) == 0 {
		return nil, err
	}
	for _, u := range uploads[1:] {
		e.log.WarnContext(ctx, "aborting a second open upload of the key", "key", key, "uploadId", aws.ToString(u.UploadId))
		e.abort(ctx, key, aws.ToString(u.UploadId))
	}
	id := aws.ToString(uploads[0].UploadId)
	if obj.Size <= e.partSize || obj.CRC32C == nil {
		e.abort(ctx, key, id)
		return nil, nil
	}
	if initiated := aws.ToTime(uploads[0].Initiated); !e.createdFrom(obj, initiated) {
		e.log.InfoContext(ctx, "aborting an open upload that may hold the headers of an earlier version of the source",
			"key", key, "uploadId", id, "initiated", initiated, "sourceLastModified", obj.Header.Get("Last-Modified"))
		e.abort(ctx, key, id)
		return nil, nil
	}
	partSize, err := e.adoptedPartSize(ctx, key, obj, id)
	if err != nil {
		return nil, err
	}
	if partSize == 0 { // its parts cannot be this object's: start afresh
		e.abort(ctx, key, id)
		return nil, nil
	}
	parts, err := e.listUploadedParts(ctx, key, obj, id, partSize)
	if err != nil {
		return nil, err
	}
	e.log.InfoContext(ctx, "joining the open upload of the key", "key", key, "uploadId", id, "partSize", partSize)
	return &openUpload{id: id, partSize: partSize, parts: parts, adopted: true}, nil
}

// createdFrom reports whether an upload initiated at initiated, that no
// resume describes, was created from obj's version. It matters because
// the object headers and the source-generation metadata of an upload are
// fixed at CreateMultipartUpload, from the version its creator read, and S3
// shows neither for an upload in progress (ListMultipartUploads gives the
// key, the upload id and the time it was initiated; ListParts the parts).
// The final CRC32C proves the bytes, not the headers: a version with the
// same bytes and new headers (or new bytes appended after whole parts
// that stayed the same) would complete with the earlier version's.
//
// A copy reads the source and creates its upload within one invocation,
// so an upload initiated more than adoptAfter after the version was
// written was created by a copy that read this version. The version's time
// is its Last-Modified (whole seconds, so the end of that second), which
// GCS and S3-compatible sources send with every GET; without one, nothing
// proves the upload's headers and it is not joined. A later Last-Modified
// (GCS also moves it when only metadata changes) only joins less.
func (e *Engine) createdFrom(obj SourceObject, initiated time.Time) bool {
	modified, err := http.ParseTime(obj.Header.Get("Last-Modified"))
	if err != nil || initiated.IsZero() {
		return false
	}
	return initiated.After(modified.Add(time.Second + e.adoptAfter))
}

// openUploads lists the multipart uploads open for exactly key, newest
// first.
func (e *Engine) openUploads(ctx context.Context, key string) ([]types.MultipartUpload, error) {
	var uploads []types.MultipartUpload
	p := s3.NewListMultipartUploadsPaginator(e.s3, &s3.ListMultipartUploadsInput{Bucket: &e.bucket, Prefix: &key})
	for p.HasMorePages() {
		var page *s3.ListMultipartUploadsOutput
		err := e.retry.do(ctx, func() (err error) {
			page, err = p.NextPage(ctx, oneAttempt)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list open uploads of %q: %w", key, err)
		}
		for _, u := range page.Uploads {
			if aws.ToString(u.Key) == key {
				uploads = append(uploads, u)
			}
		}
	}
	slices.SortStableFunc(uploads, func(a, b types.MultipartUpload) int {
		return aws.ToTime(b.Initiated).Compare(aws.ToTime(a.Initiated))
	})
	return uploads, nil
}

// adoptedPartSize infers the part size of an upload no resume describes:
// every part but the last has it, so it is the largest listed part. An
// upload without parts takes the size this engine would choose. 0 means
// the listed parts cannot be cut from this object.
func (e *Engine) adoptedPartSize(ctx context.Context, key string, obj SourceObject, uploadID string) (int64, error) {
	largest := int64(0)
	err := e.eachListedPart(ctx, key, uploadID, func(p types.Part) {
		largest = max(largest, aws.ToInt64(p.Size))
	})
	if err != nil {
		return 0, err
	}
	if largest == 0 {
		return e.choosePartSize(obj.Size), nil
	}
	if largest < minPartSize || largest > maxPartSize || (obj.Size+largest-1)/largest > maxParts {
		return 0, nil
	}
	return largest, nil
}

func (e *Engine) eachListedPart(ctx context.Context, key, uploadID string, fn func(types.Part)) error {
	p := s3.NewListPartsPaginator(e.s3, &s3.ListPartsInput{Bucket: &e.bucket, Key: &key, UploadId: &uploadID})
	for p.HasMorePages() {
		var page *s3.ListPartsOutput
		err := e.retry.do(ctx, func() (err error) {
			page, err = p.NextPage(ctx, oneAttempt)
			return err
		})
		if err != nil {
			return fmt.Errorf("list parts of %q: %w", key, err)
		}
		for _, lp := range page.Parts {
			fn(lp)
		}
	}
	return nil
}

// listUploadedParts returns the part table of an open upload with the
// parts already in S3 marked done. A listed part only counts when its size
// is what this part must be and S3 reports its CRC32C; anything else is
// uploaded again (a re-uploaded part number replaces the old one).
func (e *Engine) listUploadedParts(ctx context.Context, key string, obj SourceObject, uploadID string, partSize int64) ([]partState, error) {
	if obj.Size == 0 || (obj.Size+partSize-1)/partSize > maxParts {
		return nil, fmt.Errorf("resume %q: part size %d does not fit a %d-byte object", key, partSize, obj.Size)
	}
	parts := make([]partState, (obj.Size+partSize-1)/partSize)
	err := e.eachListedPart(ctx, key, uploadID, func(lp types.Part) {
		n := int(aws.ToInt32(lp.PartNumber))
		if n < 1 || n > len(parts) {
			return
		}
		want := partLen(obj.Size, partSize, n-1)
		crc, err := decodeCRC32C(aws.ToString(lp.ChecksumCRC32C))
		if aws.ToInt64(lp.Size) != want || err != nil {
			return
		}
		parts[n-1] = partState{etag: aws.ToString(lp.ETag), crc: crc, size: want, done: true}
	})
	return parts, err
}

func partLen(size, partSize int64, i int) int64 {
	off := int64(i) * partSize
	return min(partSize, size-off)
}

var errOutOfTime = errors.New("stopping before the invocation deadline")

// partsRun is what one uploadParts call did.
type partsRun struct {
	started, uploaded int
	bytes             int64 // of the uploaded parts
}

// uploadParts uploads every part not yet done, at most PartConcurrency at
// a time (bounded again by the streams all copies share). With a deadline on
// ctx it starts no part after deadline-StopMargin and cancels parts still
// running at deadline-StopMargin/2, returning errOutOfTime.
func (e *Engine) uploadParts(ctx context.Context, key string, obj SourceObject, uploadID string, partSize int64, parts []partState, moved *atomic.Int64) (partsRun, error) {
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
		run      partsRun
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
				mu.Lock()
				run.started++
				mu.Unlock()
				p, err := e.copyPart(workCtx, key, obj, uploadID, partSize, i, moved)
				if err != nil {
					// Cut at the work deadline: the part is simply not done. The
					// invocation's own deadline may have passed too by the time a
					// loaded machine gets here; that is still running out of time.
					if context.Cause(workCtx) == context.DeadlineExceeded {
						return
					}
					fail(err)
					return
				}
				mu.Lock()
				parts[i] = p
				run.uploaded++
				run.bytes += p.size
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return run, firstErr
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return run, err
	}
	for _, p := range parts {
		if !p.done { // workers stopped for time (outOfTime, or the work deadline hit between parts)
			return run, errOutOfTime
		}
	}
	return run, nil
}

// copyPart streams part i (index from 0) from the source into UploadPart,
// with the part's CRC32C as a trailer for S3 to check. A failure on either
// side retries the whole part, reading it from the source again.
func (e *Engine) copyPart(ctx context.Context, key string, obj SourceObject, uploadID string, partSize int64, i int, moved *atomic.Int64) (partState, error) {
	if err := e.streams.Acquire(ctx, 1); err != nil {
		return partState{}, err
	}
	defer e.streams.Release(1)
	n := partLen(obj.Size, partSize, i)
	var etag string
	var crc uint32
	err := e.retry.do(ctx, func() (err error) {
		crc, err = e.streamRange(ctx, key, obj, int64(i)*partSize, n, moved, func(ctx context.Context, body *rangeReader) error {
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

// sourceStillCurrent checks, just before completing, that the version
// copied is still the source's current one. A resumed copy stays pinned to
// its version for as long as it runs; on a versioned bucket that version
// stays readable after it is replaced, and completing it would leave S3
// with bytes GCS no longer serves (and the viewers' messages for the new
// version skipped, since S3 then has the key). A moved-on source makes the
// copy start over with the current version.
func (e *Engine) sourceStillCurrent(ctx context.Context, key, version string) error {
	current, err := e.head(ctx, key, "")
	if err != nil {
		return fmt.Errorf("check the source is still at %s before completing %q: %w", version, key, err)
	}
	if now := versionOf(current); now != version {
		e.log.WarnContext(ctx, "source moved on during the copy; not completing the older version",
			"key", key, "copiedGeneration", version, "currentGeneration", now)
		return fmt.Errorf("%w: source of %q moved on from %s to %s", errStartOver, key, version, now)
	}
	return nil
}

// complete finishes the upload unless the key appeared meanwhile.
func (e *Engine) complete(ctx context.Context, key, uploadID string, size int64, parts []partState, full uint32, cond writeCondition) (Outcome, error) {
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
			IfNoneMatch:     cond.ifNoneMatch(),
			IfMatch:         cond.ifMatchHeader(),
		}, oneAttempt)
		if isConditionalConflict(err) {
			// AWS: on a 409 re-initiate the upload and upload the parts
			// again; a retried Complete is not what it asks for.
			return fmt.Errorf("%w: %w", errStartOver, err)
		}
		return err
	})
	switch {
	case err == nil:
		return OutcomeCopied, nil
	case errors.Is(err, errStartOver) && cond.ifMatch != "":
		// A refresh: the key existing says nothing about who won; SQS
		// redelivers, and the next attempt HEADs for the ETag again.
		e.abort(ctx, key, uploadID)
		return "", fmt.Errorf("complete multipart upload %q (refresh): %w", key, err)
	case errors.Is(err, errStartOver):
		exists, herr := e.destinationHas(ctx, key)
		if herr != nil {
			return "", fmt.Errorf("complete multipart upload %q: %w; then %w", key, err, herr)
		}
		e.abort(ctx, key, uploadID)
		if exists { // the conflicting write was another copy's, and it won
			return OutcomeRaced, nil
		}
		return "", fmt.Errorf("complete multipart upload %q: %w", key, err)
	case isPreconditionFailed(err):
		e.abort(ctx, key, uploadID) // S3 keeps the loser's upload; drop its parts
		return OutcomeRaced, nil
	}
	// A retried complete whose first attempt succeeded finds no upload, and
	// a copy that joined the same upload can complete it first (S3 answers
	// NoSuchUpload, versitygw also InternalError): if the key is there now,
	// another write made it.
	if exists, herr := e.destinationHas(ctx, key); herr == nil && exists {
		return OutcomeRaced, nil
	}
	return "", fmt.Errorf("complete multipart upload %q: %w", key, err)
}

// uploadGone settles a copy whose upload vanished while it uploaded parts:
// raced when the key exists now, else start over with a new upload.
func (e *Engine) uploadGone(ctx context.Context, key, uploadID string, res Result, err error) (Result, error) {
	exists, herr := e.destinationHas(ctx, key)
	if herr != nil {
		return res, fmt.Errorf("upload %s of %q is gone (%w); then %w", uploadID, key, err, herr)
	}
	if exists {
		res.Outcome = OutcomeRaced
		return res, nil
	}
	return res, fmt.Errorf("%w: upload %s of %q is gone: %w", errStartOver, uploadID, key, err)
}
