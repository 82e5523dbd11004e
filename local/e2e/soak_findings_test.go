package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
	"github.com/backtoorigin/backtoorigin/local/consumer"
	"github.com/backtoorigin/backtoorigin/local/harness"
	"github.com/backtoorigin/backtoorigin/local/lambdart"
	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// Found by `make soak SOAK_FLAGS='-seed 202'`: a continuation (a message
// with "resume") had its CompleteMultipartUpload refused with 409
// ConditionalRequestConflict; the engine aborted the upload and reported
// the record failed, so SQS redelivered the same continuation, whose
// ListParts now answers 404 NoSuchUpload, at every receive until the
// dead-letter queue. The object could have been copied: a continuation
// whose upload is gone (aborted by an earlier attempt or by the bucket's
// lifecycle rule) should start over, as it does when the source generation
// is gone.
func TestContinuationWhoseUploadIsGoneStartsOver(t *testing.T) {

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := harness.Start(ctx, harness.Options{
		FunctionTimeout: 30 * time.Second, VisibilityTimeout: 35 * time.Second, Instances: 1,
		TransferEnv: []string{"PART_SIZE_MIB=5"},
	})
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	defer h.Close()

	const key = "video/resume gone+1.mp4"
	content := randomBytes(t, 6<<20)
	attrs, err := h.GCS.PutObject(standin.GCSObject{Bucket: harness.GCSBucket, Key: key, Content: content, ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	// The upload an earlier attempt started and then aborted.
	up, err := h.S3Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.S3Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(key), UploadId: up.UploadId}); err != nil {
		t.Fatal(err)
	}
	size := int64(len(content))
	body, _ := json.Marshal(queuemsg.Message{V: 1, Key: key, Size: &size, Resume: &transfer.Resume{
		UploadID: aws.ToString(up.UploadId), Generation: strconv.FormatInt(attrs.Generation, 10), PartSize: 5 << 20,
	}})
	if _, err := h.SQSClient.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(h.QueueURL), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(queuemsg.KeyHash(key)), MessageDeduplicationId: aws.String("continuation"),
	}); err != nil {
		t.Fatal(err)
	}
	// One visibility timeout of slack: a first failed attempt is allowed.
	waitFor(t, landWait, key+" in S3", func() bool {
		out, err := h.S3Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(key)})
		if err != nil {
			return false
		}
		defer out.Body.Close()
		got, err := io.ReadAll(out.Body)
		return err == nil && bytes.Equal(got, content)
	})
}

// Found by `make soak SOAK_FLAGS='-seed 202'`: S3 stopped reading the body
// of a single-part PutObject (a stalled upload); the engine's stop margin
// cancels parts before the deadline, but not a single PutObject, and its
// 30 s idle timeout is longer than what was left of the 25 s invocation, so
// the runtime stopped the invocation at its deadline (Sandbox.Timedout) and
// SQS redelivered the whole batch: every other record of it used up a
// receive, though most were already copied. The copy should give up before
// the deadline as a part does, so the function can report that record alone.
func TestStalledSinglePutEndsBeforeTheDeadline(t *testing.T) {

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		mu    sync.Mutex
		first *consumer.Delivery
	)
	const key = "img/stalled upload.png"
	h, err := harness.Start(ctx, harness.Options{
		FunctionTimeout: 25 * time.Second, VisibilityTimeout: 30 * time.Second, Instances: 1,
		Faults: true,
		OnDelivery: func(d consumer.Delivery) {
			mu.Lock()
			defer mu.Unlock()
			if first == nil && len(d.Records) > 0 {
				first = &d
			}
		},
	})
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	defer h.Close()
	var stalled sync.Once
	h.S3Faults.SetPlan(func(r *http.Request) proxy.Fault {
		f := proxy.Fault{}
		if proxy.S3Kind(r) == "PutObject" {
			stalled.Do(func() { f.StallRequestAt = 1000 })
		}
		return f
	})
	if _, err := h.GCS.PutObject(standin.GCSObject{Bucket: harness.GCSBucket, Key: key, Content: randomBytes(t, 1<<20), ContentType: "image/png"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(h.FrontURL + escape(key))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, landWait, "the first delivery to end", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	})
	var fe *lambdart.FunctionError
	if errors.As(first.Err, &fe) && fe.Type == "Sandbox.Timedout" {
		t.Errorf("the invocation ran into its deadline (%v) after %s; want the copy to give up before it and the record reported failed", first.Err, first.Duration.Round(time.Second))
	}
	// The engine's 20 s stop margin cuts the put at 15 s of the 25 s; a put
	// left to the invocation's own deadline ends at 25 s, racing the runtime.
	if first.Duration > 20*time.Second {
		t.Errorf("the stalled put held the invocation for %s of its 25 s; want it cut at the stop margin (about 15 s)", first.Duration.Round(time.Second))
	}
	if first.Err != nil || !first.Failed[first.Records[0].MessageId] {
		t.Errorf("first delivery: error %v, failed %v; want the record alone reported failed, for SQS to redeliver", first.Err, first.Failed)
	}
}
