package transfer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Outcome says how a copy ended without error.
type Outcome string

const (
	// OutcomeCopied: this call wrote the object.
	OutcomeCopied Outcome = "copied"
	// OutcomeSkipped: the destination already had the key (found by a
	// HEAD, or, for a small object, by its refused conditional write when
	// what is there is not the version this copy read).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeRaced: another copy completed the key first (412 on the
	// conditional write); the object is there, written by someone else
	// (for a small object: the version this copy read).
	OutcomeRaced Outcome = "raced"
	// OutcomeSourceMissing: the key does not exist at the source.
	OutcomeSourceMissing Outcome = "source-missing"
	// OutcomeSourceForbidden: the source answered 403, which is what GCS
	// says for a missing object of a bucket public through object ACLs,
	// and for every object of a private bucket read without credentials.
	// Retrying cannot help; the SourceForbidden metric's alarm tells the two
	// apart by rate.
	OutcomeSourceForbidden Outcome = "source-forbidden"
	// OutcomeSuspended: out of time (or retries) while making progress;
	// Result.Resume says where to continue.
	OutcomeSuspended Outcome = "suspended"
	// OutcomeNoProgress: MaxNoProgress invocations in a row started parts
	// and finished none (a source too slow for the part size); another
	// continuation would only read the same bytes again. Result.Reason
	// says why, for the dead-letter queue; the upload is kept.
	OutcomeNoProgress Outcome = "no-progress"
	// OutcomeFailed is the Result's outcome when Copy returns an error.
	OutcomeFailed Outcome = "failed"
)

// Result describes one Copy call.
type Result struct {
	Key        string
	Outcome    Outcome
	Size       int64 // object size at the source (0 if unknown)
	Bytes      int64 // bytes copied by this call
	Parts      int   // parts uploaded by this call (multipart only)
	Generation string
	Duration   time.Duration
	// Reason explains OutcomeNoProgress.
	Reason string
	// Joined: this copy continued a multipart upload of the key that it
	// found open instead of starting a second one.
	Joined bool
	// Resume is set for OutcomeSuspended: pass it to the next Copy of the
	// key. Nil with OutcomeSuspended means "start again from scratch".
	Resume *Resume
}

// Copy copies key from the source to the destination bucket unless it is
// already there. resume continues an earlier suspended copy (or is nil).
//
// A nil error comes with an Outcome; an error means nothing was written
// under the key by this call (uploads it started are aborted, except that a
// retryable failure after progress is reported as OutcomeSuspended instead).
func (e *Engine) Copy(ctx context.Context, key string, resume *Resume) (Result, error) {
	return e.copy(ctx, key, resume, writeCondition{})
}

// Refresh replaces S3's object under key with the source's current
// version, but only while S3's object is still the one whose ETag is etag
// (the one `backtoorigin backfill --refresh` inspected): it skips Copy's
// "S3 already has the key" check, and every write carries If-Match: etag
// instead of If-None-Match: *, so an object written under the key since
// (by anyone) is never overwritten; that write loses with 412 (outcome
// raced). A key whose S3 object no longer has that ETag is skipped without
// reading the source.
func (e *Engine) Refresh(ctx context.Context, key, etag string, resume *Resume) (Result, error) {
	if etag == "" {
		return Result{Key: key, Outcome: OutcomeFailed}, fmt.Errorf("refresh %q: the ETag of the object to replace is required", key)
	}
	return e.copy(ctx, key, resume, writeCondition{ifMatch: etag})
}

func (e *Engine) copy(ctx context.Context, key string, resume *Resume, cond writeCondition) (res Result, err error) {
	start := time.Now()
	res.Key = key
	defer func() {
		res.Duration = time.Since(start)
		if errors.Is(err, ErrSourceForbidden) {
			// Nothing was written (uploads are aborted on a non-retryable
			// error); a 403 is an answer, not a failure to retry.
			e.log.WarnContext(ctx, "source denied access: a missing object of a bucket without public listing, or a private bucket without credentials",
				"key", key, "error", err)
			res.Outcome, err = OutcomeSourceForbidden, nil
		}
		if err != nil {
			res.Outcome = OutcomeFailed
		}
		if e.onResult != nil {
			e.onResult(ctx, res, err)
		}
	}()
	if err := ValidateKey(key); err != nil {
		return res, fmt.Errorf("copy %q: %w", key, err)
	}

	if e.checkDestinationFirst(resume, nil, cond) {
		if skipped, err := e.skipIfPresent(ctx, key, resume, cond); err != nil || skipped {
			if skipped {
				res.Outcome = OutcomeSkipped
			}
			return res, err
		}
	}

	for startOvers := 0; ; startOvers++ {
		var obj SourceObject
		if resume == nil {
			var larger bool
			obj, larger, res, err = e.copyOpened(ctx, key, res, cond)
			if err != nil || !larger {
				return res, err
			}
			if e.checkDestinationFirst(nil, &obj, cond) {
				if skipped, err := e.skipIfPresent(ctx, key, nil, cond); err != nil || skipped {
					if skipped {
						res.Outcome = OutcomeSkipped
					}
					return res, err
				}
			}
		} else {
			obj, resume, err = e.headSource(ctx, key, resume)
			if errors.Is(err, ErrSourceNotFound) {
				res.Outcome = OutcomeSourceMissing
				return res, nil
			}
			if err != nil {
				return res, err
			}
		}
		res.Size, res.Generation = obj.Size, obj.Generation
		if obj.Size > MaxObjectSize {
			return res, fmt.Errorf("copy %q: %d bytes exceeds S3's 5 TiB object limit", key, obj.Size)
		}
		up, err := e.openUpload(ctx, key, obj, resume)
		if err != nil {
			return res, err
		}
		if up == nil && obj.Size <= e.partSize {
			return e.copySingle(ctx, key, obj, res, cond)
		}
		res.Joined = res.Joined || (up != nil && up.adopted)
		res, err = e.copyMultipart(ctx, key, obj, up, res, cond)
		if !errors.Is(err, errStartOver) {
			return res, err
		}
		if startOvers == maxStartOvers {
			return res, fmt.Errorf("copy %q: started over %d times: %w", key, startOvers, err)
		}
		e.log.InfoContext(ctx, "starting the copy over with a new upload", "key", key, "reason", err)
		resume = nil
	}
}

// checkDestinationFirst is the one place that decides whether a copy asks
// the destination for the key (HeadObject) before it writes. Exactness
// never depends on it: every write is conditional (If-None-Match: * on
// PutObject and CompleteMultipartUpload), so an existing object is refused,
// never overwritten. The HEAD is only worth its request where it saves
// more than it costs:
//   - a continuation (resume): when the key is there, its upload is dropped
//     at once instead of after parts were read again;
//   - an object larger than a part (obj known, after the first GET's
//     headers): a HEAD is cheap next to reading and uploading every part
//     only to have the final Complete refused.
//
// A small object needs none: its PutObject is refused as cheaply as a HEAD
// would answer, and nearly every message is for a key S3 does not have yet
// (the edge queues only responses GCS served). obj is nil while the copy
// knows nothing of the source yet.
//
// A refresh always looks first, once: it replaces only the copy whose ETag
// it names, and the HEAD tells whether that copy is still there.
func (e *Engine) checkDestinationFirst(resume *Resume, obj *SourceObject, cond writeCondition) bool {
	switch {
	case cond.ifMatch != "":
		return obj == nil
	case resume != nil:
		return true
	case obj == nil:
		return false // the first GET comes first: it tells the size
	default:
		return obj.Size > e.partSize
	}
}

// skipIfPresent HEADs the destination; when the key is there (for a
// refresh: when the copy it was to replace is not), the copy is skipped and
// a continuation's upload aborted.
func (e *Engine) skipIfPresent(ctx context.Context, key string, resume *Resume, cond writeCondition) (bool, error) {
	var skip bool
	var err error
	if cond.ifMatch == "" {
		skip, err = e.destinationHas(ctx, key)
	} else {
		skip, err = e.destinationChanged(ctx, key, cond.ifMatch)
	}
	if err != nil || !skip {
		return false, err
	}
	if resume != nil {
		e.abort(ctx, key, resume.UploadID)
	}
	return true, nil
}

// maxStartOvers bounds how often one Copy abandons its upload and starts
// again (the source moved on, a conflicting write): a source that changes
// faster than it can be copied fails the message instead of looping.
const maxStartOvers = 2

// headSource reads the source's metadata. A resumed copy reads the version
// it started with; if that version is gone, its upload is aborted and the
// copy starts over with the current version (resume becomes nil).
func (e *Engine) headSource(ctx context.Context, key string, resume *Resume) (SourceObject, *Resume, error) {
	if resume != nil {
		obj, err := e.head(ctx, key, resume.Generation)
		if err == nil && (resume.Generation == "" || versionOf(obj) == resume.Generation) {
			return obj, resume, nil
		}
		if err != nil && !errors.Is(err, ErrSourceNotFound) && !errors.Is(err, ErrSourceForbidden) {
			return SourceObject{}, nil, err
		}
		e.log.InfoContext(ctx, "source version of suspended copy is gone; starting over", "key", key, "generation", resume.Generation)
		e.abort(ctx, key, resume.UploadID)
		if err == nil && isETag(resume.Generation) {
			return obj, nil, nil // an origin without generations: that HEAD was of the current version
		}
	}
	obj, err := e.head(ctx, key, "")
	return obj, nil, err
}
