package standin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// These tests pin down the S3 rules the transfer engine's own tests rely
// on: if a stand-in upgrade stopped enforcing one, the engine tests would
// pass for the wrong reason, so this fails first.

func crc32cBase64(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func newBucket(t *testing.T) (*S3Server, *s3.Client, string) {
	t.Helper()
	srv := NewS3(t) // STANDIN_S3=minio checks MinIO instead
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "rules"); err != nil {
		t.Fatal(err)
	}
	return srv, srv.Client(), "rules"
}

func TestS3StandInRejectsPutOverExistingKeyWithIfNoneMatch(t *testing.T) {
	_, c, bucket := newBucket(t)
	ctx := context.Background()
	put := func(body string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("k"),
			Body: bytes.NewReader([]byte(body)), IfNoneMatch: aws.String("*"),
		})
		return err
	}
	if err := put("first"); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	err := put("second")
	if httpStatus(err) != http.StatusPreconditionFailed {
		t.Fatalf("second conditional put: want 412, got %v", err)
	}
	got := getBody(t, c, bucket, "k")
	if got != "first" {
		t.Fatalf("object overwritten: %q", got)
	}
}

func getBody(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type part struct {
	data []byte
	crc  string
	etag string
}

func uploadParts(t *testing.T, c *s3.Client, bucket, key string, fullObject bool, sizes ...int) (string, []part) {
	t.Helper()
	ctx := context.Background()
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c}
	if fullObject {
		in.ChecksumType = types.ChecksumTypeFullObject
	}
	mpu, err := c.CreateMultipartUpload(ctx, in)
	if err != nil {
		t.Fatalf("create multipart upload: %v", err)
	}
	var parts []part
	for i, size := range sizes {
		data := bytes.Repeat([]byte{byte('a' + i)}, size)
		crc := crc32cBase64(data)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mpu.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(data), ChecksumCRC32C: aws.String(crc),
		})
		if err != nil {
			t.Fatalf("upload part %d: %v", i+1, err)
		}
		parts = append(parts, part{data: data, crc: crc, etag: aws.ToString(out.ETag)})
	}
	return aws.ToString(mpu.UploadId), parts
}

func complete(c *s3.Client, bucket, key, uploadID string, parts []part, fullCRC string, ifNoneMatch bool) error {
	var completed []types.CompletedPart
	for i, p := range parts {
		completed = append(completed, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(p.etag), ChecksumCRC32C: aws.String(p.crc)})
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	}
	if fullCRC != "" {
		in.ChecksumCRC32C = aws.String(fullCRC)
		in.ChecksumType = types.ChecksumTypeFullObject
	}
	if ifNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := c.CompleteMultipartUpload(context.Background(), in)
	return err
}

func TestS3StandInEnforcesFiveMiBPartMinimum(t *testing.T) {
	_, c, bucket := newBucket(t)
	id, parts := uploadParts(t, c, bucket, "small-parts", false, 1<<20, 1<<20)
	err := complete(c, bucket, "small-parts", id, parts, "", false)
	if apiCode(err) != "EntityTooSmall" {
		t.Fatalf("complete with a 1 MiB first part: want EntityTooSmall, got %v", err)
	}
}

func TestS3StandInVerifiesFullObjectCRC32C(t *testing.T) {
	_, c, bucket := newBucket(t)
	sizes := []int{5 << 20, 1234}
	id, parts := uploadParts(t, c, bucket, "full", true, sizes...)
	whole := append(append([]byte{}, parts[0].data...), parts[1].data...)

	if err := complete(c, bucket, "full", id, parts, crc32cBase64([]byte("not the object")), false); err == nil {
		t.Fatal("complete accepted a wrong full-object CRC32C")
	}
	id, parts = uploadParts(t, c, bucket, "full", true, sizes...)
	if err := complete(c, bucket, "full", id, parts, crc32cBase64(whole), false); err != nil {
		t.Fatalf("complete with the right full-object CRC32C: %v", err)
	}
	head, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("full"), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ChecksumCRC32C) != crc32cBase64(whole) || head.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("stored checksum %q type %q, want %q FULL_OBJECT", aws.ToString(head.ChecksumCRC32C), head.ChecksumType, crc32cBase64(whole))
	}
}

func TestS3StandInRejectsCompleteOverExistingKeyWithIfNoneMatch(t *testing.T) {
	_, c, bucket := newBucket(t)
	id, parts := uploadParts(t, c, bucket, "raced", false, 5<<20, 10)
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("raced"), Body: bytes.NewReader([]byte("winner")),
	}); err != nil {
		t.Fatal(err)
	}
	err := complete(c, bucket, "raced", id, parts, "", true)
	if httpStatus(err) != http.StatusPreconditionFailed {
		t.Fatalf("conditional complete over an existing key: want 412, got %v", err)
	}
	if got := getBody(t, c, bucket, "raced"); got != "winner" {
		t.Fatalf("object overwritten by the losing upload: %d bytes", len(got))
	}
}
