package transfer

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/backtoorigin/backtoorigin/internal/standin"
)

func TestAWSChunkedEncoding(t *testing.T) {
	data := "hello, chunks"
	body := &rangeReader{body: strings.NewReader(data), want: int64(len(data)), progress: func(int) {}}
	encoded, length := awsChunked(body, int64(len(data)), 5)
	got, err := io.ReadAll(encoded)
	if err != nil {
		t.Fatal(err)
	}
	want := "5\r\nhello\r\n5\r\n, chu\r\n3\r\nnks\r\n0\r\n" +
		"x-amz-checksum-crc32c:" + encodeCRC32C(crc32.Checksum([]byte(data), castagnoli)) + "\r\n\r\n"
	if string(got) != want {
		t.Fatalf("encoded\n%q\nwant\n%q", got, want)
	}
	if length != int64(len(want)) {
		t.Fatalf("announced length %d, encoded %d", length, len(want))
	}

	short := &rangeReader{body: strings.NewReader(data[:7]), want: int64(len(data)), progress: func(int) {}}
	encoded, _ = awsChunked(short, int64(len(data)), 5)
	if _, err := io.ReadAll(encoded); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a source that stops short: want io.ErrUnexpectedEOF, got %v", err)
	}
}

// The trailer is the only checksum S3 gets for a streamed part, so the
// destination must verify it: a trailer that disagrees with the bytes is
// refused, one that agrees is stored as the object's CRC32C, and the
// object's own Content-Encoding survives the aws-chunked wrapping. The
// right one spans more than 16 MiB of chunks, which MinIO refuses as one.
func TestDestinationVerifiesTheTrailingCRC32C(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(17<<20+1, 3)
	put := func(key string, tamper bool) error {
		body := &rangeReader{body: bytes.NewReader(data), want: int64(len(data))}
		body.progress = func(int) {
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

// Real S3 is only spoken over HTTPS, where the SDK would otherwise take the
// checksums over itself. Streamed parts, a small object with the source's
// CRC32C and a small object from an origin without one (trailer) must come
// out exact there too, with S3 holding the object's full CRC32C.
func TestCopyOverHTTPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	secure := standin.NewS3TLS(t)
	const bucket = "dst-https"
	if err := secure.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	client := secure.Client()

	origin, noCRC := e.s3Origin("nocrc")
	objects := map[string][]byte{
		"https/multi part.bin": randomBytes(2*minPartSize+77, 80),
		"https/small.txt":      []byte("small, with the source's CRC32C"),
	}
	for key, data := range objects {
		e.put(standin.GCSObject{Key: key, Content: data})
	}
	trailed := []byte("small, from an origin without a CRC32C")
	if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &origin, Key: aws.String("https/trailed.txt"), Body: bytes.NewReader(trailed)}); err != nil {
		t.Fatal(err)
	}

	gcs := e.engine(func(c *Config) { c.S3 = client; c.Bucket = bucket })
	other := e.engine(func(c *Config) { c.S3 = client; c.Bucket = bucket; c.Source = noCRC })
	for key := range objects {
		if res, err := gcs.Copy(ctx, key, nil); err != nil || res.Outcome != OutcomeCopied {
			t.Fatalf("%q: outcome %q error %v", key, res.Outcome, err)
		}
	}
	if res, err := other.Copy(ctx, "https/trailed.txt", nil); err != nil || res.Outcome != OutcomeCopied {
		t.Fatalf("trailed: outcome %q error %v", res.Outcome, err)
	}
	objects["https/trailed.txt"] = trailed

	for key, data := range objects {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: "ENABLED"})
		if err != nil {
			t.Fatalf("get %q: %v", key, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		assertSameBytes(t, got, data)
		if want := encodeCRC32C(crc32.Checksum(data, castagnoli)); aws.ToString(out.ChecksumCRC32C) != want {
			t.Errorf("%q: stored CRC32C %q, want %q", key, aws.ToString(out.ChecksumCRC32C), want)
		}
	}
}
