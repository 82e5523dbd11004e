package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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
	s3Error := func(code int, apiCode string) error { // what the S3 client returns
		return &smithy.OperationError{ServiceID: "S3", OperationName: "UploadPart", Err: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
			Err:      &smithy.GenericAPIError{Code: apiCode},
		}}
	}
	retry := []error{status(500), status(503), status(429), status(408), io.ErrUnexpectedEOF,
		&net.OpError{Op: "read", Err: errors.New("connection reset by peer")},
		fmt.Errorf("upload part 3: %w", errStalled),
		s3Error(503, "SlowDown"), s3Error(500, "InternalError"),
		s3Error(400, "RequestTimeout"), // S3 closed a socket that sent nothing for too long
		s3Error(200, "InternalError"),  // CompleteMultipartUpload failing after its 200
	}
	never := []error{status(403), status(404), status(412), ErrChecksumMismatch, ErrSourceChanged,
		context.Canceled, errors.Join(status(503), context.Canceled), ErrMalformedMessage,
		s3Error(400, "InvalidArgument"), s3Error(403, "AccessDenied"), s3Error(400, "BadDigest"),
		fmt.Errorf("%w (S3 refused the put: %w)", ErrChecksumMismatch, s3Error(500, "InternalError")),
	}
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
