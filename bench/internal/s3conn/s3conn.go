// Package s3conn builds the S3 client the bench orchestrator and its ceiling child use to
// talk to the MinIO stand-in. The engine child builds its own client the way the engine
// expects; this one exists so the ceiling is the cheapest correct way to PUT.
package s3conn

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Options says where MinIO is and how lean the client should be.
type Options struct {
	Endpoint        string // e.g. http://127.0.0.1:9000
	AccessKeyID     string
	SecretAccessKey string
	// Lean skips everything a PUT can skip without being wrong: no SDK checksums and an
	// unsigned payload. Over plain HTTP the SDK otherwise hashes every byte with SHA-256
	// to sign it, which on loopback would make the ceiling measure our CPU, not MinIO.
	Lean bool
}

// New returns a path-style client (MinIO does not serve virtual-hosted buckets here).
func New(o Options) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(o.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, ""),
	}, func(opts *s3.Options) {
		if !o.Lean {
			return
		}
		opts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		opts.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		opts.APIOptions = append(opts.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
}
