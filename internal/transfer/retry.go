package transfer

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// shouldRetry is the one place that decides whether a failed call to the
// source or the destination may succeed if tried again: throttling, server
// errors, timeouts and broken connections may; a 4xx, a checksum mismatch
// or a cancelled context never will.
func shouldRetry(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrChecksumMismatch) || errors.Is(err, ErrSourceChanged) || errors.Is(err, errStartOver) {
		return false
	}
	if isConditionalConflict(err) {
		return true // S3: concurrent conditional writes; AWS asks to retry a PutObject
	}
	var se *SourceStatusError
	if errors.As(err, &se) {
		return retryableStatus(se.StatusCode)
	}
	if errors.Is(err, errStalled) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// S3's answers: the SDK's own classification, which also knows the
	// error codes S3 sends with a 400 (RequestTimeout) or a 503 (SlowDown),
	// plus InternalError, which can come inside a 200 to
	// CompleteMultipartUpload.
	if s3Retryable.IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	if apiErr := smithy.APIError(nil); errors.As(err, &apiErr) && apiErr.ErrorCode() == "InternalError" {
		return true // S3: "We encountered an internal error. Please try again."
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return retryableStatus(re.HTTPStatusCode())
	}
	// Timeouts, dial and read errors (*net.OpError, *url.Error): the
	// network, not the request.
	var ne net.Error
	return errors.As(err, &ne)
}

var s3Retryable = retry.IsErrorRetryables(retry.DefaultRetryables)

// errStartOver: the upload cannot be completed as it is (the source moved
// on, a 409 on Complete, adopted parts of another version); the copy
// aborts it and starts again. Never retried as it stands.
var errStartOver = errors.New("start the copy over")

// isConditionalConflict is S3's 409 ConditionalRequestConflict: another
// conditional write to the key was in progress.
func isConditionalConflict(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ConditionalRequestConflict"
}

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
}

// RetryPolicy bounds retries of one operation (a HEAD, a part).
type RetryPolicy struct {
	Attempts int           // total tries, including the first
	Base     time.Duration // first backoff; doubles each retry
	Max      time.Duration // cap on one backoff
}

// DefaultRetryPolicy rides out a few seconds of origin trouble per
// operation; beyond that the message is retried later by SQS.
var DefaultRetryPolicy = RetryPolicy{Attempts: 6, Base: 200 * time.Millisecond, Max: 5 * time.Second}

// do runs op until it succeeds, fails for good, or the attempts run out,
// sleeping with full jitter between tries (so concurrent parts that failed
// together do not retry in lockstep).
func (p RetryPolicy) do(ctx context.Context, op func() error) error {
	backoff := p.Base
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt >= p.Attempts || !shouldRetry(err) {
			return err
		}
		sleep := time.Duration(rand.Int64N(int64(backoff) + 1))
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(sleep):
		}
		backoff = min(backoff*2, p.Max)
	}
}
