package standin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The private-source e2e case rotates the source's key by adding a reader
// and deleting the old one while versitygw runs; this pins down what it
// relies on: a reader reads and nothing more, anonymous is refused, and a
// deleted reader's key is refused with 403 at once while the other works.
func TestS3IAMReaderRotation(t *testing.T) {
	srv := NewS3IAM(t)
	ctx := context.Background()
	const bucket = "private"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	content := []byte("only for readers")
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader(content)}); err != nil {
		t.Fatalf("root put: %v", err)
	}
	as := func(k AccessKey) *s3.Client {
		return NewS3Client(srv.Endpoint, k.AccessKeyID, k.SecretAccessKey)
	}
	get := func(k AccessKey) error {
		out, err := as(k).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		if got, _ := io.ReadAll(out.Body); !bytes.Equal(got, content) {
			t.Errorf("%s read %q, want %q", k.AccessKeyID, got, content)
		}
		return nil
	}

	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Get(srv.Endpoint + "/" + bucket + "/k")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET: %d, want 403", resp.StatusCode)
	}

	old, err := srv.AddReader(ctx, bucket)
	if err != nil {
		t.Fatalf("add reader: %v\n%s", err, srv.Logs())
	}
	if err := get(old); err != nil {
		t.Fatalf("reader GET: %v", err)
	}
	if _, err := as(old).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err != nil {
		t.Errorf("reader HEAD: %v", err)
	}
	_, err = as(old).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("w"), Body: bytes.NewReader(nil)})
	if httpStatus(err) != http.StatusForbidden {
		t.Errorf("reader PUT: %v, want a 403", err)
	}

	fresh, err := srv.AddReader(ctx, bucket)
	if err != nil {
		t.Fatalf("add second reader: %v", err)
	}
	if err := get(old); err != nil {
		t.Errorf("first reader GET beside the second: %v", err)
	}
	if err := get(fresh); err != nil {
		t.Errorf("second reader GET: %v", err)
	}

	pid := srv.Pid()
	if err := srv.RemoveReader(ctx, bucket, old.AccessKeyID); err != nil {
		t.Fatalf("remove reader: %v", err)
	}
	err = get(old)
	if httpStatus(err) != http.StatusForbidden || apiCode(err) != "InvalidAccessKeyId" {
		t.Errorf("deleted reader GET: %v (status %d), want 403 InvalidAccessKeyId", err, httpStatus(err))
	}
	if err := get(fresh); err != nil {
		t.Errorf("remaining reader GET: %v", err)
	}
	if srv.Pid() != pid {
		t.Errorf("versitygw restarted (pid %d, was %d)", srv.Pid(), pid)
	}
	if err := srv.RemoveReader(ctx, bucket, old.AccessKeyID); err == nil {
		t.Error("removing a reader twice succeeded")
	}
}
