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

	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// shouldRetry is the one place that decides whether a failed call to the
// source or the destination may succeed if tried again: throttling, server
// errors, timeouts and broken connections may; a 4xx, a checksum mismatch
// or a cancelled context never will.
func shouldRetry(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *SourceStatusError
	if errors.As(err, &se) {
		return retryableStatus(se.StatusCode)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return retryableStatus(re.HTTPStatusCode())
	}
	if errors.Is(err, errStalled) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// Timeouts, dial and read errors (*net.OpError, *url.Error): the
	// network, not the request.
	var ne net.Error
	return errors.As(err, &ne)
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
