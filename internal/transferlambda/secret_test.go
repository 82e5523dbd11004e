package transferlambda

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// A rotated HMAC key: the container read the old key at init; the source (versitygw, which
// verifies signatures, as a private S3-compatible source) now only accepts the new one. The
// first 403 after the re-read interval re-reads the secret once and succeeds; a 403 soon after
// a read does not read again.
func TestA403ReReadsTheSecretOnceBeforeCallingTheObjectForbidden(t *testing.T) {
	ctx := context.Background()
	gw := standin.NewS3(t)
	if err := gw.CreateBucket(ctx, "private"); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("private"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	secret := func(id, key string) string { return fmt.Sprintf(`{"accessKeyId":%q,"secretAccessKey":%q}`, id, key) }
	// The old key: the same id with a secret the source no longer accepts (versitygw answers
	// an unknown id with 404, so the id stays; the SDK's signer would cache the old derived key
	// under it, which the source must not).
	sm := &fakeSecrets{value: secret(gw.AccessKeyID, "revoked")}
	creds, err := SourceCredentials(ctx, sm, "arn:secret")
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	creds.now = func() time.Time { return clock }
	source := &transfer.Source{Endpoint: gw.Endpoint, Bucket: "private", Credentials: creds, Region: gw.Region}

	// Rotated, but read a moment ago: the 403 stands and the secret is not read again.
	sm.value = secret(gw.AccessKeyID, gw.SecretAccessKey)
	clock = clock.Add(MinSecretRereadInterval / 2)
	obj := transfer.SourceObject{Size: 1}
	read := func() error {
		body, err := source.Get(ctx, "k", obj, 0, 1)
		if err == nil {
			body.Close()
		}
		return err
	}
	if err := read(); !errors.Is(err, transfer.ErrSourceForbidden) {
		t.Fatalf("read with the old key: %v, want forbidden", err)
	}
	if sm.calls != 1 {
		t.Fatalf("secret read %d times, want only the init read", sm.calls)
	}
	// Later: one re-read, and the same request succeeds with the new key.
	clock = clock.Add(MinSecretRereadInterval)
	if err := read(); err != nil {
		t.Fatalf("read after the rotation: %v (%d reads, key %+v)", err, sm.calls, creds.creds)
	}
	if sm.calls != 2 {
		t.Fatalf("secret read %d times, want 2", sm.calls)
	}
	// A key that is simply wrong: one re-read finds no other key, and the object is forbidden.
	sm.value = secret(gw.AccessKeyID, "revoked")
	clock = clock.Add(MinSecretRereadInterval)
	if err := read(); err != nil {
		t.Fatalf("the next read re-read the secret too soon: %v", err)
	}
	creds.mu.Lock()
	creds.creds = aws.Credentials{AccessKeyID: gw.AccessKeyID, SecretAccessKey: "revoked"}
	creds.mu.Unlock()
	var se *transfer.SourceStatusError
	err = read()
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || sm.calls != 3 {
		t.Fatalf("wrong key: %v after %d reads, want 403 after one re-read", err, sm.calls)
	}
}
