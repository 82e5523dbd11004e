package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	// DefaultAdoptAfter is the function timeout (the longest a copy takes
	// from reading the source to creating its upload) and a minute for
	// the difference between the source's clock and S3's.
	DefaultAdoptAfter = contract.FunctionTimeout + time.Minute
)

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
	// AdoptAfter: an open upload of the key that no resume describes is
	// joined only when it was initiated more than this long after the
	// source version was written, since only then was it created from
	// that version (see createdFrom; default DefaultAdoptAfter). Others are
	// aborted and the copy starts a new upload.
	AdoptAfter time.Duration
	// Logger receives the engine's notes on a copy: a source that changed
	// under it, a start over, an abort that failed (default slog.Default()).
	Logger *slog.Logger
	// ResultHook, when set, is called once as each Copy or Refresh returns,
	// with what it returns (the transfer Lambda writes its per-object log
	// and metric line from it).
	ResultHook func(ctx context.Context, res Result, err error)
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
	onResult   func(context.Context, Result, error)

	partConcurrency int
	streams         *semaphore.Weighted // parts and small objects in flight, across all copies

	readIdleTimeout time.Duration
	maxPartDuration time.Duration
	adoptAfter      time.Duration
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
	if cfg.AdoptAfter <= 0 {
		cfg.AdoptAfter = DefaultAdoptAfter
	}
	return &Engine{
		s3:         cfg.S3,
		bucket:     cfg.Bucket,
		source:     cfg.Source,
		partSize:   cfg.PartSize,
		stopMargin: cfg.StopMargin,
		retry:      cfg.Retry,
		log:        cfg.Logger,
		onResult:   cfg.ResultHook,

		partConcurrency: cfg.PartConcurrency,
		streams:         semaphore.NewWeighted(int64(cfg.PartConcurrency)),

		readIdleTimeout: cfg.ReadIdleTimeout,
		maxPartDuration: cfg.MaxPartDuration,
		adoptAfter:      cfg.AdoptAfter,
	}, nil
}
