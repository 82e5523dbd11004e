package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// A part must stream within one invocation at MinStreamRate, or a copy at
// that rate never progresses; the largest object's parts still fit.
func TestPartSizesFitTheInvocationWindow(t *testing.T) {
	limit := MaxPartSizeFor(DefaultMaxPartDuration)
	if limit != 560<<20 {
		t.Fatalf("largest part %d MiB, want 560 (2 MiB/s for 280 s)", limit>>20)
	}
	if p := choosePartSize(MaxObjectSize, DefaultPartSize); p > limit {
		t.Fatalf("a 5 TiB object gets %d MiB parts, more than %d MiB fit the window", p>>20, limit>>20)
	}
	src := &Source{Endpoint: "http://127.0.0.1:1", Bucket: "b"}
	if _, err := New(Config{S3: s3.New(s3.Options{}), Bucket: "b", Source: src, PartSize: limit + mib}); err == nil {
		t.Fatal("a part size beyond the window was accepted")
	}
	if _, err := New(Config{S3: s3.New(s3.Options{}), Bucket: "b", Source: src, PartSize: 64 << 20, MaxPartDuration: 30 * time.Second}); err == nil {
		t.Fatal("64 MiB parts accepted for 30 s windows (60 MiB at 2 MiB/s)")
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
		s3Error(400, "RequestTimeout"),             // S3 closed a socket that sent nothing for too long
		s3Error(200, "InternalError"),              // CompleteMultipartUpload failing after its 200
		s3Error(409, "ConditionalRequestConflict"), // a concurrent conditional write: AWS asks to retry a PutObject
	}
	never := []error{status(403), status(404), status(412), ErrChecksumMismatch, ErrSourceChanged,
		context.Canceled, errors.Join(status(503), context.Canceled), ValidateKey("../other-bucket/obj"),
		s3Error(400, "InvalidArgument"), s3Error(403, "AccessDenied"), s3Error(400, "BadDigest"),
		fmt.Errorf("%w (S3 refused the put: %w)", ErrChecksumMismatch, s3Error(500, "InternalError")),
		fmt.Errorf("%w: %w", errStartOver, s3Error(409, "ConditionalRequestConflict")), // a Complete starts over instead
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
