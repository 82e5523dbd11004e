package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backtoorigin/backtoorigin/bench/internal/s3conn"
	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// destination is the orchestrator's own view of MinIO: it prepares the bucket, checks
// every copy and clears the key before the next contender.
type destination struct {
	client *s3.Client
}

// startDestination starts MinIO with its data in tmp and creates bucket.
func startDestination(ctx context.Context, minioBinary, tmp, bucket string) (*standin.S3Server, *destination, error) {
	dataDir := filepath.Join(tmp, "minio")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("make minio data folder: %w", err)
	}
	minio, err := standin.StartMinIOBinary(ctx, minioBinary, dataDir)
	if err != nil {
		return nil, nil, err
	}
	dest := newDestination(minio)
	if err := dest.createBucket(ctx, bucket); err != nil {
		minio.Close()
		return nil, nil, err
	}
	return minio, dest, nil
}

func newDestination(m *standin.S3Server) *destination {
	return &destination{client: s3conn.New(s3conn.Options{
		Endpoint: m.Endpoint, AccessKeyID: m.AccessKeyID, SecretAccessKey: m.SecretAccessKey, Lean: true,
	})}
}

func (d *destination) createBucket(ctx context.Context, bucket string) error {
	_, err := d.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %q: %w", bucket, err)
	}
	return nil
}

// clear deletes the key and aborts multipart uploads left for it by a failed or stopped
// run, so the next contender starts from the same empty destination (the engine would
// otherwise skip the key, or resume someone else's upload).
func (d *destination) clear(ctx context.Context, bucket, key string) error {
	if _, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", bucket, key, err)
	}
	uploads, err := d.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		return fmt.Errorf("list uploads of s3://%s/%s: %w", bucket, key, err)
	}
	for _, u := range uploads.Uploads {
		if aws.ToString(u.Key) != key {
			continue
		}
		_, err := d.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		if err != nil {
			return fmt.Errorf("abort upload %s of s3://%s/%s: %w", aws.ToString(u.UploadId), bucket, key, err)
		}
	}
	return nil
}

// verify reads the copy back and compares its size and SHA-256 with the source's, so no
// number is printed for a copy that is not exact. It also checks the part count in the
// multipart ETag ("...-N"): a contender that silently used another part size (a
// misread rclone flag) would otherwise be compared on unequal terms.
func (d *destination) verify(ctx context.Context, bucket, key string, size, partSize int64, sum [sha256.Size]byte) error {
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("read back s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	wantParts := int64(0) // a single PutObject has a plain ETag
	if size > partSize {
		wantParts = (size + partSize - 1) / partSize
	}
	if got := etagParts(aws.ToString(out.ETag)); got != wantParts {
		return fmt.Errorf("s3://%s/%s: ETag %s says %d parts, want %d (part size %d)", bucket, key, aws.ToString(out.ETag), got, wantParts, partSize)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, out.Body, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("read back s3://%s/%s: %w", bucket, key, err)
	}
	if n != size {
		return fmt.Errorf("s3://%s/%s has %d bytes, source has %d", bucket, key, n, size)
	}
	if got := [sha256.Size]byte(h.Sum(nil)); got != sum {
		return fmt.Errorf("s3://%s/%s: SHA-256 %x differs from the source's %x", bucket, key, got, sum)
	}
	return nil
}

// etagParts returns N from a multipart ETag "hex-N", 0 for a single-part ETag.
func etagParts(etag string) int64 {
	_, n, ok := strings.Cut(strings.Trim(etag, `"`), "-")
	if !ok {
		return 0
	}
	parts, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return -1
	}
	return parts
}
