package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
)

func TestChoosePartSizeKeepsTo10000Parts(t *testing.T) {
	for _, c := range []struct{ size, want int64 }{
		{100 << 20, DefaultPartSize},
		{DefaultPartSize * maxParts, DefaultPartSize},
		{DefaultPartSize*maxParts + 1, 17 << 20},
		{MaxObjectSize, 525 << 20},
	} {
		got := choosePartSize(c.size, DefaultPartSize)
		if got != c.want || (c.size+got-1)/got > maxParts || got%mib != 0 || got > maxPartSize {
			t.Errorf("size %d: part size %d, want %d", c.size, got, c.want)
		}
	}
}

func TestShouldRetryClassification(t *testing.T) {
	status := func(code int) error {
		return fmt.Errorf("wrapped: %w", &SourceStatusError{Op: "get", StatusCode: code})
	}
	retry := []error{status(500), status(503), status(429), status(408), io.ErrUnexpectedEOF,
		&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}}
	never := []error{status(403), status(404), status(412), ErrChecksumMismatch, ErrSourceChanged,
		context.Canceled, errors.Join(status(503), context.Canceled), ErrMalformedMessage}
	for _, err := range retry {
		if !shouldRetry(err) {
			t.Errorf("%v: want retry", err)
		}
	}
	for _, err := range never {
		if shouldRetry(err) {
			t.Errorf("%v: want no retry", err)
		}
	}
}
