package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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
