package standin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// NewS3Client returns an S3 client for a stand-in: path-style addressing
// (there is no wildcard DNS for bucket.127.0.0.1), static credentials, and
// optional extra options such as APIOptions middleware for counting calls.
func NewS3Client(endpoint, accessKeyID, secretAccessKey string, optFns ...func(*s3.Options)) *s3.Client {
	return newS3Client(endpoint, accessKeyID, secretAccessKey, nil, optFns...)
}

func newS3Client(endpoint, accessKeyID, secretAccessKey string, roots *x509.CertPool, optFns ...func(*s3.Options)) *s3.Client {
	opts := []func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.Region = S3Region
		o.Credentials = credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, "")
		// What config.LoadDefaultConfig gives the Lambda's client (s3.New
		// alone leaves both unset, which turns the SDK's checksums off).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
		// Loopback servers need no proxy; a proxy from the environment would
		// break every test on a machine that sets HTTPS_PROXY.
		o.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
			TLSClientConfig:     &tls.Config{RootCAs: roots},
		}}
	}}
	return s3.New(s3.Options{}, append(opts, optFns...)...)
}

// Client returns a client for this server.
func (s *S3Server) Client(optFns ...func(*s3.Options)) *s3.Client {
	return newS3Client(s.Endpoint, s.AccessKeyID, s.SecretAccessKey, s.RootCAs, optFns...)
}

// CreateBucket creates a bucket, treating "already yours" as success.
func (s *S3Server) CreateBucket(ctx context.Context, name string) error {
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %q: %w", name, err)
	}
	return nil
}
