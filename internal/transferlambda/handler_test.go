package transferlambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
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

var (
	s3Server  *standin.S3Server
	gcsServer *standin.GCS
	sqsServer *standin.SQSServer
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "transferlambda-s3-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if s3Server, err = standin.StartS3(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s3Server.Close()
	if gcsServer, err = standin.StartGCS(standin.GCSOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer gcsServer.Close()
	if sqsServer, err = standin.StartSQS(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer sqsServer.Close()
	return m.Run()
}

// world is one test's buckets and queues, named after the test.
type world struct {
	t                *testing.T
	src, dst         string
	queueURL, dlqURL string
	cfg              Config
	proxy            *standin.FaultProxy
	sqs              *sqs.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	name = strings.Trim(name, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
	w := &world{t: t, src: "src-" + name, dst: "dst-" + name, sqs: sqsServer.Client()}
	gcsServer.CreateBucket(w.src, false)
	if err := s3Server.CreateBucket(ctx, w.dst); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.queueURL, err = sqsServer.CreateQueue(ctx, "q-"+name, true); err != nil {
		t.Fatal(err)
	}
	if w.dlqURL, err = sqsServer.CreateQueue(ctx, "dlq-"+name, true); err != nil {
		t.Fatal(err)
	}
	w.proxy = standin.NewFaultProxy(t, gcsServer.URL)
	w.cfg = Config{
		DestinationBucket:  w.dst,
		SourceBucket:       w.src,
		SourceEndpoint:     w.proxy.URL,
		QueueURL:           w.queueURL,
		DeadLetterQueueURL: w.dlqURL,
		PartSizeMiB:        5,
		PartConcurrency:    2,
		BatchConcurrency:   3,
	}
	return w
}

func (w *world) handler() *Handler {
	w.t.Helper()
	h, err := NewHandler(context.Background(), w.cfg, Clients{S3: s3Server.Client(), SQS: w.sqs}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

func (w *world) putSource(key string, data []byte) {
	w.t.Helper()
	gcsServer.MustPutObject(w.t, standin.GCSObject{Bucket: w.src, Key: key, Content: data})
}

func record(id, body string) events.SQSMessage {
	var m queuemsg.Message
	group := "unparseable"
	if json.Unmarshal([]byte(body), &m) == nil && m.Key != "" {
		group = queuemsg.KeyHash(m.Key)
	}
	return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"MessageGroupId": group}}
}

func messageFor(key string) string {
	b, _ := json.Marshal(queuemsg.Message{V: 1, Key: key})
	return string(b)
}

func (w *world) receive(queueURL string) []sqstypes.Message {
	w.t.Helper()
	out, err := w.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: &queueURL, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		AttributeNames:              []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}, //nolint:staticcheck // the stand-in reads only this older field
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out.Messages
}

func (w *world) destination(key string) string {
	w.t.Helper()
	out, err := s3Server.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: &w.dst, Key: &key})
	if err != nil {
		w.t.Fatalf("get %q: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b)
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

func TestMalformedMessagesGoToTheDeadLetterQueueWithTheirReason(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.putSource("good.txt", []byte("good"))
	cases := map[string]struct{ body, reason string }{
		"m-json":    {`{"v":1,"key":`, "invalid JSON"},
		"m-empty":   {`{"v":1,"key":""}`, "empty key"},
		"m-nokey":   {`{"v":1}`, "empty key"},
		"m-version": {`{"v":2,"key":"a.txt"}`, "unsupported version 2"},
		"m-long":    {messageFor(strings.Repeat("k", 1025)), "1025 bytes"},
		"m-resume":  {`{"v":1,"key":"a","resume":{"uploadId":"","partSize":1}}`, "resume needs an uploadId"},
		"m-dots":    {`{"v":1,"key":"x/../good.txt"}`, `".." path segment`},
	}
	records := []events.SQSMessage{record("ok", messageFor("good.txt"))}
	for id, c := range cases {
		records = append(records, record(id, c.body))
	}
	resp, err := w.handler().Handle(context.Background(), events.SQSEvent{Records: records})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("malformed messages must be acknowledged: failures %v, error %v", failedIDs(resp), err)
	}
	if got := w.destination("good.txt"); got != "good" {
		t.Fatalf("the good message in the batch was not copied: %q", got)
	}
	seen := map[string]bool{}
	for len(seen) < len(cases) {
		msgs := w.receive(w.dlqURL)
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			var dl DeadLetter
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &dl); err != nil {
				t.Fatalf("dead letter is not the JSON wrapper: %v", err)
			}
			c, ok := cases[dl.MessageID]
			if !ok {
				t.Fatalf("unexpected dead letter for %q", dl.MessageID)
			}
			attr := aws.ToString(m.MessageAttributes[ReasonAttribute].StringValue)
			if dl.Body != c.body || !strings.Contains(dl.Reason, c.reason) || attr != dl.Reason {
				t.Errorf("%s: dead letter %+v, attribute %q; want body %q and a reason mentioning %q", dl.MessageID, dl, attr, c.body, c.reason)
			}
			seen[dl.MessageID] = true
			_, _ = w.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &w.dlqURL, ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(seen) != len(cases) {
		t.Fatalf("%d of %d malformed messages reached the dead-letter queue: %v", len(seen), len(cases), seen)
	}
}

func TestMalformedMessageIsRetriedWhenTheDeadLetterQueueIsUnreachable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.cfg.DeadLetterQueueURL = w.dlqURL + "-missing"
	resp, _ := w.handler().Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("bad", "not json")}})
	if ids := failedIDs(resp); !slices.Equal(ids, []string{"bad"}) {
		t.Fatalf("failures %v: a message that could not be filed must not be acknowledged", ids)
	}
}

func TestBatchReportsOnlyTheFailedRecords(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.putSource("a.txt", []byte("aaa"))
	w.putSource("b.bin", make([]byte, 6<<20))
	w.putSource("broken.txt", []byte("never arrives"))
	w.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		if strings.Contains(r.URL.Path, "broken") {
			return standin.Fault{Status: http.StatusBadRequest} // not retryable
		}
		if strings.Contains(r.URL.Path, "forbidden") {
			return standin.Fault{Status: http.StatusForbidden} // an answer: acknowledged
		}
		return standin.Fault{}
	})
	resp, err := w.handler().Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("1", messageFor("a.txt")),
		record("2", messageFor("broken.txt")),
		record("3", messageFor("b.bin")),
		record("4", messageFor("missing-at-source.txt")),
		record("5", messageFor("forbidden.txt")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ids := failedIDs(resp); !slices.Equal(ids, []string{"2"}) {
		t.Fatalf("failures %v, want only the broken record", ids)
	}
	if w.destination("a.txt") != "aaa" || len(w.destination("b.bin")) != 6<<20 {
		t.Fatal("the good records were not copied")
	}
}

func TestSuspendedCopyIsContinuedThroughTheQueue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	data := make([]byte, 27<<20+5) // 6 parts
	for i := range data {
		data[i] = byte(i * 7)
	}
	w.putSource("long/video.bin", data)
	// Parts 1-2 read at full speed; later parts hang at the source until
	// the engine stops for the deadline, whatever the machine's load.
	w.proxy.OnRequest(func(n int, r *http.Request) standin.Fault {
		var start int64
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &start); err == nil && start >= 2*5<<20 {
			return standin.Fault{Delay: time.Minute}
		}
		return standin.Fault{}
	})
	h := w.handler()
	// The production margin (20 s) would need a 20 s test; the engine's
	// own tests cover margins, this one covers the queue round trip.
	engine, err := transfer.New(transfer.Config{
		S3: s3Server.Client(), Bucket: w.dst, PartSize: 5 << 20, PartConcurrency: 2, StopMargin: 2 * time.Second,
		Source: &transfer.Source{Endpoint: w.proxy.URL, Bucket: w.src},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Copier = engine
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second) // the invocation's deadline
	defer cancel()
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{record("orig", messageFor("long/video.bin"))}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("a suspended copy must be acknowledged: %v %v", failedIDs(resp), err)
	}
	msgs := w.receive(w.queueURL)
	if len(msgs) != 1 {
		t.Fatalf("%d continuation messages, want 1", len(msgs))
	}
	m := msgs[0]
	cont, err := queuemsg.Parse(aws.ToString(m.Body))
	if err != nil || cont.Key != "long/video.bin" || cont.Resume == nil || cont.Resume.UploadID == "" {
		t.Fatalf("continuation %q: %+v %v", aws.ToString(m.Body), cont, err)
	}
	group := queuemsg.KeyHash("long/video.bin")
	if m.Attributes["MessageGroupId"] != group || !strings.HasPrefix(m.Attributes["MessageDeduplicationId"], group+"-") {
		t.Fatalf("continuation attributes %v, want group %s and a suffixed dedup id", m.Attributes, group)
	}

	w.proxy.OnRequest(nil)
	resp, err = h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("cont", aws.ToString(m.Body))}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("continuation failed: %v %v", failedIDs(resp), err)
	}
	if got := w.destination("long/video.bin"); got != string(data) {
		t.Fatalf("resumed object differs: %d bytes", len(got))
	}
}

// recordingCopier fails the keys it is told to and records call order.
type recordingCopier struct {
	mu         sync.Mutex
	calls      []string
	refreshed  []string // "key if-match etag" of Refresh calls
	fail       map[string]bool
	generation string // reported for every copy
}

var _ Copier = (*recordingCopier)(nil)

func (c *recordingCopier) Copy(_ context.Context, key string, _ *transfer.Resume) (transfer.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, key)
	if c.fail[key] {
		return transfer.Result{}, fmt.Errorf("copy %q: injected", key)
	}
	return transfer.Result{Key: key, Outcome: transfer.OutcomeCopied, Generation: c.generation}, nil
}

func (c *recordingCopier) Refresh(ctx context.Context, key, etag string, resume *transfer.Resume) (transfer.Result, error) {
	c.mu.Lock()
	c.refreshed = append(c.refreshed, key+" if-match "+etag)
	c.mu.Unlock()
	return c.Copy(ctx, key, resume)
}

// The message's generation is what the edge saw; when the copy found
// another one, the log says so (viewers were served the older bytes).
func TestNewerGenerationThanTheViewerSawIsLogged(t *testing.T) {
	var logs bytes.Buffer
	h := &Handler{Copier: &recordingCopier{generation: "200"}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	body := func(gen string) string {
		return fmt.Sprintf(`{"v":1,"key":"changed.txt","generation":%q}`, gen)
	}
	for _, gen := range []string{"200", ""} {
		if _, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("same", body(gen))}}); err != nil {
			t.Fatal(err)
		}
	}
	if logs.Len() != 0 {
		t.Fatalf("same or unknown generation logged: %s", logs.String())
	}
	if _, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("older", body("100"))}}); err != nil {
		t.Fatal(err)
	}
	var line struct{ Key, ServedGeneration, CopiedGeneration string }
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Key != "changed.txt" || line.ServedGeneration != "100" || line.CopiedGeneration != "200" {
		t.Fatalf("log %q (%v), want one line naming served 100 and copied 200", logs.String(), err)
	}
}

// After a failure in a FIFO group, later records of that group must not run
// ahead of it; other groups are unaffected.
func TestFailureStopsTheRestOfItsGroupOnly(t *testing.T) {
	copier := &recordingCopier{fail: map[string]bool{"x": true}}
	h := &Handler{Copier: copier, BatchConcurrency: 2, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("x1", messageFor("x")),
		record("y1", messageFor("y")),
		record("x2", messageFor("x")),
		record("y2", messageFor("y")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ids := failedIDs(resp); !slices.Equal(ids, []string{"x1", "x2"}) {
		t.Fatalf("failures %v, want x1 and the unprocessed x2", ids)
	}
	slices.Sort(copier.calls)
	if !slices.Equal(copier.calls, []string{"x", "y", "y"}) {
		t.Fatalf("copies %v: x2 must not run after x1 failed", copier.calls)
	}
}

// Only a message with "refresh" replaces what S3 has; the same key without
// it is skipped, as every viewer's and backfill's message is.
func TestOnlyARefreshMessageReplacesAnExistingCopy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.putSource("k", []byte("version one"))
	h := w.handler()
	ctx := context.Background()
	if resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{record("1", messageFor("k"))}}); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("copy: %+v %v", resp, err)
	}
	head, err := s3Server.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &w.dst, Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	w.putSource("k", []byte("version two"))

	if _, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{record("2", messageFor("k"))}}); err != nil {
		t.Fatal(err)
	}
	if got := w.destination("k"); got != "version one" {
		t.Fatalf("a message without refresh overwrote the copy: %q", got)
	}
	refresh, _ := json.Marshal(queuemsg.Message{V: 1, Key: "k", Refresh: &queuemsg.Refresh{ETag: aws.ToString(head.ETag)}})
	if resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{record("3", string(refresh))}}); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("refresh: %+v %v", resp, err)
	}
	if got := w.destination("k"); got != "version two" {
		t.Fatalf("after the refresh S3 holds %q", got)
	}
}
