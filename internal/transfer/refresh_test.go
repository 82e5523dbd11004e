package transfer

import (
	"bytes"
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

func (e *env) etag(key string) string {
	e.t.Helper()
	_, head := e.object(key)
	return aws.ToString(head.ETag)
}

// A refresh replaces the copy it was asked to replace, small or multipart,
// and a second refresh naming the replaced copy's ETag leaves the new one.
func TestRefreshReplacesTheCopyWhoseETagItNames(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second int
		wantMultipart bool
	}{
		{"single", 1000, 2000, false},
		{"multipart", 6 << 20, 11 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			eng := e.engine(nil)
			e.put(standin.GCSObject{Key: "k", Content: randomBytes(tc.first, 1)})
			e.mustCopy(eng, "k", OutcomeCopied)
			old := e.etag("k")
			v2 := randomBytes(tc.second, 2)
			gen2 := e.put(standin.GCSObject{Key: "k", Content: v2})

			// Copy never overwrites: the key is there.
			e.mustCopy(eng, "k", OutcomeSkipped)
			res, err := eng.Refresh(context.Background(), "k", old, nil)
			if err != nil || res.Outcome != OutcomeCopied || (res.Parts > 0) != tc.wantMultipart {
				t.Fatalf("refresh: %+v %v", res, err)
			}
			got, head := e.object("k")
			assertSameBytes(t, got, v2)
			if head.Metadata[SourceGenerationMetadataKey] != gen2 {
				t.Fatalf("source-generation %q, want %q", head.Metadata[SourceGenerationMetadataKey], gen2)
			}
			// The same refresh delivered again finds another ETag: nothing read, nothing written.
			before := e.etag("k")
			res, err = eng.Refresh(context.Background(), "k", old, nil)
			if err != nil || res.Outcome != OutcomeSkipped || e.etag("k") != before {
				t.Fatalf("second refresh: %+v %v", res, err)
			}
			e.assertNoUploads("k")
		})
	}
}

// Someone writes the key between the refresh's check and its write: the
// write carries If-Match, loses with 412, and their object stays.
func TestRefreshNeverOverwritesAnObjectWrittenMeanwhile(t *testing.T) {
	e := newEnv(t, false)
	eng := e.engine(nil)
	e.put(standin.GCSObject{Key: "k", Content: []byte("version one")})
	e.mustCopy(eng, "k", OutcomeCopied)
	old := e.etag("k")
	e.put(standin.GCSObject{Key: "k", Content: []byte("version two")})

	foreign := []byte("written by someone else")
	var wrote atomic.Bool
	e.onS3Request(func(r *http.Request) standin.Fault {
		if r.Method == http.MethodPut && !r.URL.Query().Has("partNumber") && r.Header.Get("If-Match") == old && !wrote.Swap(true) {
			return standin.Fault{Before: func() {
				if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &e.dstBucket, Key: aws.String("k"), Body: bytes.NewReader(foreign)}); err != nil {
					t.Error(err)
				}
			}}
		}
		return standin.Fault{}
	})
	res, err := eng.Refresh(context.Background(), "k", old, nil)
	if err != nil || res.Outcome != OutcomeRaced {
		t.Fatalf("refresh: %+v %v", res, err)
	}
	if !wrote.Load() {
		t.Fatal("the refresh's write never carried If-Match with the old ETag")
	}
	got, _ := e.object("k")
	assertSameBytes(t, got, foreign)
}
