package transfer

import (
	"bytes"
	"context"
	"hash/crc32"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The trailer is the only checksum S3 gets for a streamed part, so the
// destination must verify it: a trailer that disagrees with the bytes is
// refused, one that agrees is stored as the object's CRC32C, and the
// object's own Content-Encoding survives the aws-chunked wrapping.
func TestDestinationVerifiesTheTrailingCRC32C(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(70_001, 3)
	put := func(key string, tamper bool) error {
		body := &rangeReader{body: bytes.NewReader(data), want: int64(len(data))}
		body.progress = func() {
			if tamper && body.n == body.want {
				body.crc ^= 1 // the trailer no longer describes the bytes sent
			}
		}
		_, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: &e.dstBucket, Key: &key, Body: body, ContentLength: aws.Int64(int64(len(data))),
			ContentEncoding: aws.String("gzip"),
		}, oneAttempt, withTrailingCRC32C(body))
		return err
	}

	if err := put("trailer/wrong", true); err == nil {
		t.Fatal("a part whose trailer does not match its bytes was accepted")
	}
	e.assertAbsent("trailer/wrong")

	if err := put("trailer/right", false); err != nil {
		t.Fatalf("put with a correct trailer: %v", err)
	}
	got, head := e.object("trailer/right")
	assertSameBytes(t, got, data)
	if enc := aws.ToString(head.ContentEncoding); enc != "gzip" {
		t.Errorf("Content-Encoding %q, want the object's own gzip without aws-chunked", enc)
	}
	full, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: &e.dstBucket, Key: aws.String("trailer/right"), ChecksumMode: "ENABLED",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := encodeCRC32C(crc32.Checksum(data, castagnoli)); aws.ToString(full.ChecksumCRC32C) != want {
		t.Errorf("stored CRC32C %q, want %q", aws.ToString(full.ChecksumCRC32C), want)
	}
}
