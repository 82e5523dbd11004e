package migrate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3ListAPI is the part of the S3 client a listing uses.
type S3ListAPI interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

var _ S3ListAPI = (*s3.Client)(nil)

// S3Lister lists an S3 bucket (the destination, or an S3-compatible
// source) with ListObjectsV2.
type S3Lister struct {
	Client S3ListAPI
	Bucket string
	Side   string // "destination" unless set
}

// Name implements Lister.
func (l *S3Lister) Name() string {
	side := l.Side
	if side == "" {
		side = "destination"
	}
	return side + " s3://" + l.Bucket
}

// ListPage implements Lister.
func (l *S3Lister) ListPage(ctx context.Context, prefix, startAfter, token string, pageSize int) ([]Object, string, error) {
	in := &s3.ListObjectsV2Input{Bucket: &l.Bucket, MaxKeys: aws.Int32(int32(pageSize))}
	if prefix != "" {
		in.Prefix = &prefix
	}
	if token != "" {
		in.ContinuationToken = &token
	} else if startAfter != "" {
		in.StartAfter = &startAfter
	}
	out, err := l.Client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("list s3://%s: %w", l.Bucket, err)
	}
	objs := make([]Object, 0, len(out.Contents))
	for _, c := range out.Contents {
		objs = append(objs, Object{Key: aws.ToString(c.Key), Size: aws.ToInt64(c.Size), LastModified: aws.ToTime(c.LastModified), ETag: aws.ToString(c.ETag)})
	}
	next := ""
	if aws.ToBool(out.IsTruncated) {
		if next = aws.ToString(out.NextContinuationToken); next == "" {
			return nil, "", fmt.Errorf("listing of s3://%s is truncated without a continuation token", l.Bucket)
		}
	}
	return objs, next, nil
}
