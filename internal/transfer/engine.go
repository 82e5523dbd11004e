package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/semaphore"

	"github.com/backtoorigin/backtoorigin/internal/contract"
)

// S3 limits the engine works within.
const (
	minPartSize   = 5 << 20 // S3's minimum for every part but the last
	maxPartSize   = 5 << 30 // S3's maximum part
	maxParts      = 10_000  // S3's maximum part count
	MaxObjectSize = 5 << 40 // S3's maximum object
	mib           = 1 << 20
)

// MaxNoProgress is how many invocations in a row may start parts and
// finish none before a copy ends as OutcomeNoProgress.
const MaxNoProgress = 3

// MinStreamRate is the slowest source stream the part sizes are chosen
// for: a part started at the beginning of an invocation finishes within
// MaxPartDuration at this rate. At 2 MiB/s and the default 280 s, parts
// are at most 560 MiB, and the 525 MiB parts of a 5 TiB object fit.
const MinStreamRate = 2 << 20 // bytes per second

// Defaults for Config fields left zero: what the stack deploys (contract).
const (
	// DefaultMaxPartDuration is the function timeout less the stop margin:
	// the time one part may stream in an invocation.
	DefaultMaxPartDuration = contract.WorkWindow
	DefaultPartSize        = contract.PartSizeMiB << 20
	DefaultPartConcurrency = contract.PartConcurrency
	DefaultStopMargin      = contract.StopMargin
	DefaultReadIdleTimeout = 30 * time.Second
)

// S3API is the part of the S3 client the engine uses.
type S3API interface {
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	ListParts(context.Context, *s3.ListPartsInput, ...func(*s3.Options)) (*s3.ListPartsOutput, error)
	ListMultipartUploads(context.Context, *s3.ListMultipartUploadsInput, ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// Config configures an Engine. S3, Bucket and Source are required.
type Config struct {
	S3     S3API
	Bucket string // destination bucket
	Source *Source

	// PartSize is the multipart part size (default 16 MiB, at least 5 MiB);
	// objects no larger are copied with one PutObject. Objects that would
	// need more than 10,000 parts get larger parts.
	PartSize int64
	// PartConcurrency bounds parts in flight across all copies of this
	// engine (default 8). Parts stream from the source to S3, so memory
	// does not grow with it or with PartSize.
	PartConcurrency int
	// StopMargin: a copy stops starting parts this long before the
	// context's deadline and cancels parts still running at half of it, so
	// the caller has time to enqueue a continuation (default 20 s).
	StopMargin time.Duration
	// Retry bounds retries of each source read and S3 call (default
	// DefaultRetryPolicy). It is the only retry layer: the engine turns
	// the S3 client's own retryer off for its calls, since a streamed body
	// cannot be sent twice and a part is retried by reading it again.
	Retry RetryPolicy
	// ReadIdleTimeout abandons (and retries) a source read that delivers
	// no byte for this long (default 30 s).
	ReadIdleTimeout time.Duration
	// MaxPartDuration is the time a part may take in one invocation
	// (default DefaultMaxPartDuration). Parts are no larger than
	// MinStreamRate moves in it, so a copy at that rate always progresses.
	MaxPartDuration time.Duration
	// Logger receives one line per object (default slog.Default()).
	Logger *slog.Logger
}

// Engine copies objects from a Source to an S3 bucket. It is safe for
// concurrent use; all copies share one memory budget.
type Engine struct {
	s3         S3API
	bucket     string
	source     *Source
	partSize   int64
	stopMargin time.Duration
	retry      RetryPolicy
	log        *slog.Logger

	partConcurrency int
	streams         *semaphore.Weighted // parts and small objects in flight, across all copies

	readIdleTimeout time.Duration
	maxPartDuration time.Duration
}

// MaxPartSizeFor is the largest part, in whole MiB, that a stream at
// MinStreamRate moves within d.
func MaxPartSizeFor(d time.Duration) int64 {
	return int64(d.Seconds()*MinStreamRate) / mib * mib
}

// New validates cfg and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.S3 == nil || cfg.Bucket == "" || cfg.Source == nil {
		return nil, errors.New("transfer engine: S3 client, destination bucket and source are required")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.MaxPartDuration <= 0 {
		cfg.MaxPartDuration = DefaultMaxPartDuration
	}
	maxForWindow := MaxPartSizeFor(cfg.MaxPartDuration)
	if cfg.PartSize < minPartSize || cfg.PartSize > min(maxPartSize, maxForWindow) {
		return nil, fmt.Errorf("transfer engine: part size %d outside %d..%d (S3's minimum; what %d MiB/s moves in %s)",
			cfg.PartSize, minPartSize, min(maxPartSize, maxForWindow), MinStreamRate>>20, cfg.MaxPartDuration)
	}
	if cfg.PartConcurrency <= 0 {
		cfg.PartConcurrency = DefaultPartConcurrency
	}
	if cfg.StopMargin <= 0 {
		cfg.StopMargin = DefaultStopMargin
	}
	if cfg.Retry.Attempts <= 0 {
		cfg.Retry = DefaultRetryPolicy
	}
	if cfg.ReadIdleTimeout <= 0 {
		cfg.ReadIdleTimeout = DefaultReadIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Engine{
		s3:         cfg.S3,
		bucket:     cfg.Bucket,
		source:     cfg.Source,
		partSize:   cfg.PartSize,
		stopMargin: cfg.StopMargin,
		retry:      cfg.Retry,
		log:        cfg.Logger,

		partConcurrency: cfg.PartConcurrency,
		streams:         semaphore.NewWeighted(int64(cfg.PartConcurrency)),

		readIdleTimeout: cfg.ReadIdleTimeout,
		maxPartDuration: cfg.MaxPartDuration,
	}, nil
}

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
	// OutcomeExcluded: the stack's key rules (includePrefixes,
	// excludeSuffixes) leave the key out; set by the Lambda handler.
	OutcomeExcluded Outcome = "excluded"
	// OutcomeFailed is what the log line says when Copy returns an error.
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

// writeCondition is the precondition of every write of one copy.
type writeCondition struct {
	ifMatch string // replace only this ETag; "" means create only (If-None-Match: *)
}

func (c writeCondition) ifNoneMatch() *string {
	if c.ifMatch != "" {
		return nil
	}
	return ifNoneMatchAny
}

func (c writeCondition) ifMatchHeader() *string {
	if c.ifMatch == "" {
		return nil
	}
	return aws.String(c.ifMatch)
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
		e.logResult(ctx, res, err)
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

func (e *Engine) head(ctx context.Context, key, version string) (SourceObject, error) {
	generation := version
	if isETag(version) {
		generation = "" // origins without generations: compare ETags instead
	}
	var obj SourceObject
	err := e.retry.do(ctx, func() (err error) {
		obj, err = e.source.Head(ctx, key, generation)
		return err
	})
	return obj, err
}

// versionOf names the version a copy is pinned to: the GCS generation, or
// the quoted ETag for S3-compatible origins that have no generations.
func versionOf(obj SourceObject) string {
	if obj.Generation != "" {
		return obj.Generation
	}
	return obj.ETag
}

func isETag(version string) bool { return len(version) > 0 && version[0] == '"' }

func (e *Engine) destinationHas(ctx context.Context, key string) (bool, error) {
	err := e.retry.do(ctx, func() error {
		_, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key}, oneAttempt)
		return err
	})
	if err == nil {
		return true, nil
	}
	var nf *types.NotFound
	if errors.As(err, &nf) || httpStatus(err) == http.StatusNotFound {
		return false, nil
	}
	if httpStatus(err) == http.StatusForbidden {
		return false, fmt.Errorf("head destination %q: %w (without s3:ListBucket S3 answers 403 for missing keys)", key, err)
	}
	return false, fmt.Errorf("head destination %q: %w", key, err)
}

// destinationChanged reports whether S3's object under key is no longer
// the one with etag (gone, or written since): a refresh then has nothing
// to replace, and reading the source would be wasted egress.
func (e *Engine) destinationChanged(ctx context.Context, key, etag string) (bool, error) {
	var out *s3.HeadObjectOutput
	err := e.retry.do(ctx, func() (err error) {
		out, err = e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key}, oneAttempt)
		return err
	})
	var nf *types.NotFound
	if errors.As(err, &nf) || httpStatus(err) == http.StatusNotFound {
		e.log.InfoContext(ctx, "refresh: the object to replace is gone from S3; nothing written", "key", key)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("head destination %q: %w", key, err)
	}
	if aws.ToString(out.ETag) != etag {
		e.log.InfoContext(ctx, "refresh: S3's object changed since the refresh was queued; left alone", "key", key, "expected", etag, "found", aws.ToString(out.ETag))
		return true, nil
	}
	return false, nil
}

func (e *Engine) abort(ctx context.Context, key, uploadID string) {
	if uploadID == "" {
		return
	}
	// Cleanup must run even when ctx is what ran out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := e.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &e.bucket, Key: &key, UploadId: &uploadID})
	if err != nil && !isNoSuchUpload(err) {
		e.log.WarnContext(ctx, "abort multipart upload failed; a lifecycle rule must clean it up", "key", key, "uploadId", uploadID, "error", err)
	}
}

// isNoSuchUpload: the multipart upload does not exist (aborted, completed,
// or expired). Only AbortMultipartUpload and a few other operations model
// this error; ListParts and UploadPart do not (aws-sdk-go-v2 service/s3
// v1.114.8 deserializers.go: awsRestxml_deserializeOpErrorListParts has no
// case for it), so it is matched by its code, not its Go type.
func isNoSuchUpload(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload"
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// ErrChecksumMismatch: the bytes read do not match the source's CRC32C
// or size. Nothing was written.
var ErrChecksumMismatch = errors.New("checksum mismatch")

func verifyWhole(key string, obj SourceObject, got uint32, n int64) error {
	if n != obj.Size {
		return fmt.Errorf("copy %q: read %d bytes, source says %d: %w", key, n, obj.Size, ErrChecksumMismatch)
	}
	if obj.CRC32C != nil && *obj.CRC32C != got {
		return fmt.Errorf("copy %q: CRC32C %s, source says %s: %w", key, encodeCRC32C(got), encodeCRC32C(*obj.CRC32C), ErrChecksumMismatch)
	}
	return nil
}

var ifNoneMatchAny = aws.String("*")

// unsignedPayload signs a body upload as UNSIGNED-PAYLOAD. The CRC32C
// header already makes S3 verify every byte, so also hashing the body with
// SHA-256 for the signature would cost a CPU pass over all data for no
// extra safety (over plain HTTP the SDK would otherwise always do it).
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// oneAttempt makes an S3 call a single attempt: the engine's RetryPolicy,
// classified by shouldRetry, is the one retry layer (nested under the
// SDK's retryer a failing call would be sent attempts x attempts times).
func oneAttempt(o *s3.Options) { o.Retryer = aws.NopRetryer{} }

func isPreconditionFailed(err error) bool { return httpStatus(err) == http.StatusPreconditionFailed }
