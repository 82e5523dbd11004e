package transferlambda

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// invoke plays one Lambda invocation: the queue's next batch (up to 4
// records, the stack's batch size, in FIFO order) handed to h with a deadline of
// window; acknowledged records are deleted. It returns how many records
// the batch held.
func (w *world) invoke(h *Handler, window time.Duration) int {
	w.t.Helper()
	out, err := w.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: &w.queueURL, MaxNumberOfMessages: 4, WaitTimeSeconds: 1,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}, //nolint:staticcheck // the stand-in reads only this older field
	})
	if err != nil {
		w.t.Fatal(err)
	}
	msgs := out.Messages
	var records []events.SQSMessage
	for _, m := range msgs {
		records = append(records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Attributes: m.Attributes})
	}
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	resp, err := h.Handle(ctx, events.SQSEvent{Records: records})
	if err != nil {
		w.t.Fatal(err)
	}
	failed := failedIDs(resp)
	for _, m := range msgs {
		if slices.Contains(failed, aws.ToString(m.MessageId)) {
			w.t.Fatalf("record %s failed: the flow under test never fails a record", aws.ToString(m.MessageId))
		}
		if _, err := w.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &w.queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
			w.t.Fatal(err)
		}
	}
	return len(msgs)
}

// viewerMiss sends what the edge sends for a miss once the queue's
// five-minute deduplication window has passed: a message without resume.
func (w *world) viewerMiss(key string) {
	w.t.Helper()
	group := queuemsg.KeyHash(key)
	if _, err := w.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: &w.queueURL, MessageBody: aws.String(messageFor(key)),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(group + "-" + rand.Text()),
	}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) openUploads(key string) int {
	w.t.Helper()
	out, err := s3Server.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &w.dst, Prefix: &key})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(out.Uploads)
}

func (w *world) hasDestination(key string) bool {
	_, err := s3Server.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &w.dst, Key: &key})
	return err == nil
}

// testEngine is the function's engine with a stop margin a test can wait
// out (the production 20 s would make every invocation 20 s long).
func (w *world) testEngine(h *Handler, stopMargin time.Duration, logs io.Writer) {
	w.t.Helper()
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	engine, err := transfer.New(transfer.Config{
		S3: s3Server.Client(), Bucket: w.dst, PartSize: 5 << 20, PartConcurrency: 2, StopMargin: stopMargin,
		Source: &transfer.Source{Endpoint: w.proxy.URL, Bucket: w.src},
		Logger: logger, ResultHook: copyLogger(logger),
	})
	if err != nil {
		w.t.Fatal(err)
	}
	h.Copier = engine
}

// A long copy with a viewer's message arriving at every invocation: each
// such message joins the open upload instead of starting another, so the
// copy ends in about as many invocations as alone, each part is read from
// the source once, and at most one upload of the key is ever open.
func TestViewerMessagesDuringALongCopyJoinIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const key = "long/popular.bin"
	const parts, perInvocation = 13, 4
	data := bytes.Repeat([]byte("0123456789abcdef"), (parts-1)*5<<20/16+1)
	w.putSource(key, data)
	var (
		mu    sync.Mutex
		gets  int            // GETs let through in this invocation
		reads map[string]int // ranges read from the source, over all invocations
	)
	reads = map[string]int{}
	w.proxy.OnRequest(func(_ int, r *http.Request) standin.Fault {
		if r.Method != http.MethodGet || r.Header.Get("Range") == "" {
			return standin.Fault{} // a message's first GET, closed once its headers told the size
		}
		mu.Lock()
		defer mu.Unlock()
		if gets == perInvocation { // the rest of this invocation's parts hang until the engine stops them
			return standin.Fault{Delay: time.Minute}
		}
		gets++
		reads[r.Header.Get("Range")]++
		return standin.Fault{}
	})
	h := w.handler()
	w.testEngine(h, 3*time.Second, io.Discard)

	w.viewerMiss(key)
	invocations := 0
	for !w.hasDestination(key) {
		if invocations++; invocations > 2*parts/perInvocation {
			t.Fatalf("not copied after %d invocations", invocations-1)
		}
		mu.Lock()
		gets = 0
		mu.Unlock()
		w.viewerMiss(key)
		w.invoke(h, 5*time.Second)
		if n := w.openUploads(key); n > 1 {
			t.Fatalf("invocation %d: %d uploads of the key open, want at most 1", invocations, n)
		}
	}
	if alone := (parts + perInvocation - 1) / perInvocation; invocations > alone+1 {
		t.Errorf("copied in %d invocations; alone it takes %d", invocations, alone)
	}
	if got := w.destination(key); got != string(data) {
		t.Fatalf("destination differs: %d bytes", len(got))
	}
	if len(reads) != parts {
		t.Errorf("%d distinct ranges read, want %d", len(reads), parts)
	}
	for r, n := range reads {
		if n != 1 {
			t.Errorf("range %s read %d times, want once", r, n)
		}
	}
	if w.openUploads(key) != 0 {
		t.Error("an upload of the key is left open")
	}
}

// A copy whose parts never finish within an invocation (a source too slow
// for the part size) would be continued for ever: continuations start at
// receive count 1. After transfer.MaxNoProgress such invocations in a row
// it goes to the dead-letter queue with the reason.
func TestCopyWithoutProgressEndsInTheDeadLetterQueue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const key = "slow/trickle.bin"
	w.putSource(key, bytes.Repeat([]byte{7}, 3*5<<20))
	w.proxy.OnRequest(func(_ int, r *http.Request) standin.Fault {
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" {
			return standin.Fault{Delay: time.Minute} // no part ever finishes (the first GET only tells the size)
		}
		return standin.Fault{}
	})
	h := w.handler()
	var logs safeBuffer
	w.testEngine(h, time.Second, &logs)
	w.viewerMiss(key)
	// Each invocation must start a part to count: 4 s less the 1 s stop
	// margin leaves 3 s for that on a loaded machine (1 s was not always
	// enough at load average 23).
	for i := 1; i <= transfer.MaxNoProgress; i++ {
		if n := w.invoke(h, 4*time.Second); n != 1 {
			t.Fatalf("invocation %d got %d records, want the one continuation", i, n)
		}
	}
	if msgs := w.receive(w.queueURL); len(msgs) != 0 {
		t.Fatalf("%d messages still queued after %d invocations without progress: %s", len(msgs), transfer.MaxNoProgress, aws.ToString(msgs[0].Body))
	}
	dead := w.receive(w.dlqURL)
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	var dl DeadLetter
	if err := json.Unmarshal([]byte(aws.ToString(dead[0].Body)), &dl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dl.Reason, "no part finished within an invocation 3 times in a row: part size 5 MiB, observed rate") {
		t.Fatalf("dead letter reason %q", dl.Reason)
	}
	if m, err := queuemsg.Parse(dl.Body); err != nil || m.Key != key || m.Resume == nil {
		t.Fatalf("dead letter body %q (%v): want the continuation, to redrive it", dl.Body, err)
	}
	if !strings.Contains(logs.String(), `"outcome":"no-progress"`) || !strings.Contains(logs.String(), `"NoProgress":1`) {
		t.Fatalf("no object line counts the outcome:\n%s", logs.String())
	}
}

// The function applies the stack's key rules itself: a key the edge would
// not have queued is acknowledged, logged and not copied.
func TestExcludedKeysAreAcknowledgedAndNotCopied(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, key := range []string{"img/a.png", "img/a.tmp", "other/b.png"} {
		w.putSource(key, []byte(key))
	}
	w.cfg.Rules = KeyRules{IncludePrefixes: []string{"img/"}, ExcludeSuffixes: []string{".tmp"}}
	var logs safeBuffer
	h, err := NewHandler(context.Background(), w.cfg, Clients{S3: s3Server.Client(), SQS: w.sqs}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("1", messageFor("img/a.png")), record("2", messageFor("img/a.tmp")), record("3", messageFor("other/b.png")),
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v error %v: excluded keys must be acknowledged", failedIDs(resp), err)
	}
	if !w.hasDestination("img/a.png") || w.hasDestination("img/a.tmp") || w.hasDestination("other/b.png") {
		t.Fatal("want only img/a.png copied")
	}
	for _, key := range []string{"img/a.tmp", "other/b.png"} {
		if !strings.Contains(logs.String(), `"key":"`+key+`","outcome":"excluded"`) {
			t.Errorf("no excluded line for %s:\n%s", key, logs.String())
		}
	}
	if n := strings.Count(logs.String(), `"Excluded":1`); n != 2 {
		t.Errorf("%d lines count Excluded, want 2", n)
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
