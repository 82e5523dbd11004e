package transfer

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// conflict is S3's answer to a conditional write while another one to the
// same key is in progress.
const conflict = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code>` +
	`<Message>A conflicting conditional operation is currently in progress against this resource.</Message></Error>`

func isPutObject(r *http.Request) bool {
	return r.Method == http.MethodPut && !r.URL.Query().Has("partNumber")
}

func isComplete(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

func isCreateUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploads")
}

// AWS asks for a PutObject that met a 409 to be retried.
func TestPutObjectConflictIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := []byte("small object")
	e.put(standin.GCSObject{Key: "conflict/small.txt", Content: data})
	var puts atomic.Int32
	e.onS3Request(func(r *http.Request) standin.Fault {
		if isPutObject(r) && puts.Add(1) == 1 {
			return standin.Fault{Status: http.StatusConflict, Body: conflict}
		}
		return standin.Fault{}
	})
	e.mustCopy(e.engine(nil), "conflict/small.txt", OutcomeCopied)
	if puts.Load() != 2 {
		t.Fatalf("%d PutObject requests, want the conflicting one and its retry", puts.Load())
	}
	got, _ := e.object("conflict/small.txt")
	assertSameBytes(t, got, data)
}

// A 409 on CompleteMultipartUpload is not retried as it stands: with the
// key absent the copy starts a new upload; with the key present the other
// writer won.
func TestCompleteConflictStartsANewUploadOrYields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	data := randomBytes(2*minPartSize+11, 15)
	for _, key := range []string{"conflict/absent.bin", "conflict/present.bin"} {
		e.put(standin.GCSObject{Key: key, Content: data})
		var completes, creates atomic.Int32
		e.onS3Request(func(r *http.Request) standin.Fault {
			switch {
			case isCreateUpload(r):
				creates.Add(1)
			case isComplete(r) && completes.Add(1) == 1:
				f := standin.Fault{Status: http.StatusConflict, Body: conflict}
				if strings.HasSuffix(key, "present.bin") {
					f.Before = func() { // the conflicting write was another copy's, and it succeeded
						if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &e.dstBucket, Key: aws.String(key), Body: strings.NewReader("winner")}); err != nil {
							t.Error(err)
						}
					}
				}
				return f
			}
			return standin.Fault{}
		})
		if key == "conflict/absent.bin" {
			e.mustCopy(e.engine(nil), key, OutcomeCopied)
			got, _ := e.object(key)
			assertSameBytes(t, got, data)
			if creates.Load() != 2 || completes.Load() != 2 {
				t.Fatalf("%d uploads created, %d completes: want a second upload after the 409", creates.Load(), completes.Load())
			}
		} else {
			e.mustCopy(e.engine(nil), key, OutcomeRaced)
			got, _ := e.object(key)
			assertSameBytes(t, got, []byte("winner"))
			if completes.Load() != 1 {
				t.Fatalf("%d completes, want no retry once the other writer's object is there", completes.Load())
			}
		}
		e.assertNoUploads(key)
	}
}
