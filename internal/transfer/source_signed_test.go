package transfer

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A private origin is read with SigV4 (GCS HMAC keys in production). The
// S3 stand-in verifies signatures, so it serves as a private S3-compatible
// origin here: a wrong escaping of the key, or a signed header the front
// end rewrites, would fail with 403.
func TestSignedReadsFromAPrivateS3CompatibleOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	origin, signed := e.s3Origin("private")
	keys := map[string][]byte{
		"signed/a b+c%d é.txt": []byte("small and signed"),
		"signed/multi part":    randomBytes(2*minPartSize+3, 60),
	}
	for key, data := range keys {
		if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &origin, Key: aws.String(key), Body: strings.NewReader(string(data)),
			ContentType: aws.String("text/plain"), Metadata: map[string]string{"origin-note": "kept"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	source := *signed
	source.Credentials = nil

	_, err := source.Head(ctx, "signed/multi part", "")
	var se *SourceStatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous read of the private origin: want 403, got %v", err)
	}

	eng := e.engine(func(c *Config) { c.Source = signed })
	for key, data := range keys {
		e.mustCopy(eng, key, OutcomeCopied)
		got, head := e.object(key)
		assertSameBytes(t, got, data)
		if head.Metadata["origin-note"] != "kept" || aws.ToString(head.ContentType) != "text/plain" {
			t.Errorf("%q: metadata %v content type %q", key, head.Metadata, aws.ToString(head.ContentType))
		}
	}
}
