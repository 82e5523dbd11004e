package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// pagingKeys has keys that sort differently in byte order and in naive
// orders: a space, '+', '/', upper case, and multi-byte UTF-8.
func pagingKeys(n int) []string {
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("k/%03d", i))
	}
	keys = append(keys, "A", "a b", "a+b", "a/b", "k/\u00fc", "k/\u20ac", "z")
	slices.Sort(keys)
	return keys
}

// TestXMLListerPagesThroughAnS3CompatibleSource lists versitygw, which
// pages (fake-gcs-server answers every key in one page whatever max-keys
// says), as an S3-compatible source read with an HMAC key, 7 keys a page.
func TestXMLListerPagesThroughAnS3CompatibleSource(t *testing.T) {
	srv := standin.NewS3(t)
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "src"); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	keys := pagingKeys(50)
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	var pages atomic.Int64
	lister := countingLister{&XMLLister{
		Endpoint: srv.Endpoint, Bucket: "src", Region: srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKeyID, srv.SecretAccessKey, ""),
	}, &pages}
	var got []string
	for _, r := range SplitRanges("", 4) {
		for o, err := range List(ctx, lister, r, 7) {
			if err != nil {
				t.Fatal(err)
			}
			if o.Size != int64(len(o.Key)) {
				t.Fatalf("%q: size %d", o.Key, o.Size)
			}
			got = append(got, o.Key)
		}
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("listed %q\nwant   %q", got, keys)
	}
	if pages.Load() < int64(len(keys)/7) {
		t.Fatalf("%d listing calls for %d keys at 7 a page: it did not page", pages.Load(), len(keys))
	}
	// The S3 lister pages the same bucket to the same keys.
	var viaSDK []string
	for o, err := range List(ctx, &S3Lister{Client: c, Bucket: "src"}, Range{}, 7) {
		if err != nil {
			t.Fatal(err)
		}
		viaSDK = append(viaSDK, o.Key)
	}
	if !slices.Equal(viaSDK, keys) {
		t.Fatalf("S3 lister: %q", viaSDK)
	}
	// Unsigned, versitygw refuses; the error says what to do.
	anon := &XMLLister{Endpoint: srv.Endpoint, Bucket: "src"}
	if _, _, err := anon.ListPage(ctx, "", "", "", 7); err == nil || !strings.Contains(err.Error(), "HMAC") {
		t.Fatalf("anonymous listing of a private bucket: %v", err)
	}
}

// backfillWorld: a GCS source with n never-requested keys, an empty S3
// bucket, a transfer queue.
type backfillWorld struct {
	sides    *Sides
	sqs      *sqs.Client
	queueURL string
	keys     []string
}

func newBackfillWorld(t *testing.T, n int) *backfillWorld {
	t.Helper()
	ctx := context.Background()
	gcs, s3srv, sqsSrv := standin.NewGCS(t), standin.NewS3(t), standin.NewSQS(t)
	gcs.CreateBucket("src", false)
	if err := s3srv.CreateBucket(ctx, "dst"); err != nil {
		t.Fatal(err)
	}
	w := &backfillWorld{sqs: sqsSrv.Client()}
	for i := range n {
		k := fmt.Sprintf("obj/%04d", i)
		w.keys = append(w.keys, k)
		gcs.MustPutObject(t, standin.GCSObject{Bucket: "src", Key: k, Content: []byte(k)})
	}
	var err error
	if w.queueURL, err = sqsSrv.CreateQueue(ctx, "transfer.fifo", true); err != nil {
		t.Fatal(err)
	}
	w.sides = &Sides{
		Source:     &XMLLister{Endpoint: gcs.URL, Bucket: "src"},
		SourceHead: &transfer.Source{Endpoint: gcs.URL, Bucket: "src"},
		Dest:       s3srv.Client(), Bucket: "dst", PageSize: 5,
	}
	return w
}

// recordingQueue records every key sent, and can stop the run after some
// batches the way Ctrl-C does (the context is cancelled mid-backfill).
type recordingQueue struct {
	Queue
	mu        sync.Mutex
	sent      []string
	batches   int
	stopAfter int
	cancel    context.CancelFunc
	inFlight  sync.WaitGroup
}

func (q *recordingQueue) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	q.batches++
	stop := q.stopAfter > 0 && q.batches > q.stopAfter
	q.mu.Unlock()
	if stop {
		q.inFlight.Wait() // the batches before this one reach SQS, then Ctrl-C
		q.cancel()
		return nil, context.Canceled
	}
	q.inFlight.Add(1)
	defer q.inFlight.Done()
	out, err := q.Queue.SendMessageBatch(context.WithoutCancel(ctx), in, opts...)
	if err == nil {
		q.mu.Lock()
		for _, e := range in.Entries {
			var m queuemsg.Message
			_ = json.Unmarshal([]byte(aws.ToString(e.MessageBody)), &m)
			q.sent = append(q.sent, m.Key)
		}
		q.mu.Unlock()
	}
	return out, err
}

func TestBackfillResumesAfterAnInterruptionAndQueuesNothingTwice(t *testing.T) {
	w := newBackfillWorld(t, 60)
	checkpoint := filepath.Join(t.TempDir(), "state.json")
	q := &recordingQueue{Queue: w.sqs}
	opts := BackfillOptions{Queue: q, QueueURL: w.queueURL, Checkpoint: checkpoint, Identity: "test", Ranges: 3}

	// First run: interrupted after two batches.
	ctx, cancel := context.WithCancel(context.Background())
	q.stopAfter, q.cancel = 2, cancel
	_, err := Backfill(ctx, w.sides, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	first := len(q.sent)
	if first == 0 || first >= len(w.keys) {
		t.Fatalf("interrupted run sent %d of %d", first, len(w.keys))
	}
	if _, err := os.Stat(checkpoint); err != nil {
		t.Fatalf("no checkpoint after the interruption: %v", err)
	}

	// Second run: the rest, and nothing already sent.
	q.stopAfter = 0
	sum, err := Backfill(context.Background(), w.sides, opts)
	if err != nil {
		t.Fatal(err)
	}
	sent := slices.Clone(q.sent)
	slices.Sort(sent)
	if !slices.Equal(sent, w.keys) {
		t.Fatalf("sent over both runs (%d): %q\nwant each of the %d keys once", len(sent), sent, len(w.keys))
	}
	if !sum.Resumed || sum.Queued.Objects != int64(len(w.keys)) {
		t.Fatalf("summary %+v", sum)
	}
	if _, err := os.Stat(checkpoint); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the checkpoint of a finished backfill is kept: %v", err)
	}
	// A checkpoint never resumes a different backfill.
	q.stopAfter, q.sent = 1, nil
	ctx, cancel = context.WithCancel(context.Background())
	q.cancel = cancel
	q.batches = 0
	_, _ = Backfill(ctx, w.sides, opts)
	other := opts
	other.Prefixes = []string{"obj/"}
	if _, err := Backfill(context.Background(), w.sides, other); !errors.Is(err, ErrCheckpointMismatch) {
		t.Fatalf("another backfill's checkpoint: %v", err)
	}
}

// standinDepth is the queue's true depth on local-aws-sqs, which counts
// in-flight messages both as visible and as not visible (the backfill's own
// sum of the two is then an overcount, which only makes it more careful).
func standinDepth(ctx context.Context, c *sqs.Client, url string) (int, error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}})
	if err != nil {
		return 0, err
	}
	n := func(a sqstypes.QueueAttributeName) int { v, _ := strconv.Atoi(out.Attributes[string(a)]); return v }
	return max(n(sqstypes.QueueAttributeNameApproximateNumberOfMessages), n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)) +
		n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed), nil
}

func TestBackfillKeepsTheQueueUnderMaxQueued(t *testing.T) {
	w := newBackfillWorld(t, 45)
	const maxQueued = 12
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		peak     atomic.Int64
		consumed atomic.Int64
		stop     = make(chan struct{})
		done     = make(chan struct{})
	)
	go func() { // a slow transfer function, and an observer of the depth
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			if d, err := standinDepth(ctx, w.sqs, w.queueURL); err == nil && int64(d) > peak.Load() {
				peak.Store(int64(d))
			}
			out, err := w.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &w.queueURL, MaxNumberOfMessages: 3})
			if err != nil {
				continue
			}
			for _, m := range out.Messages {
				if _, err := w.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &w.queueURL, ReceiptHandle: m.ReceiptHandle}); err == nil {
					consumed.Add(1)
				}
			}
		}
	}()
	var waited atomic.Bool
	sum, err := Backfill(ctx, w.sides, BackfillOptions{
		Queue: w.sqs, QueueURL: w.queueURL, MaxQueued: maxQueued, DepthPoll: 50 * time.Millisecond, Ranges: 2,
		Progress: func(p BackfillProgress) {
			if p.Waiting {
				waited.Store(true)
			}
		},
	})
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if sum.Queued.Objects != 45 {
		t.Fatalf("queued %d", sum.Queued.Objects)
	}
	if !waited.Load() {
		t.Fatal("never held back, though the consumer is slower than the backfill")
	}
	if peak.Load() > maxQueued {
		t.Fatalf("queue depth reached %d, bound %d", peak.Load(), maxQueued)
	}
}

// The ranges follow the bucket's directories (one delimiter listing),
// looking into a prefix that holds a single directory, and still list
// every key exactly once.
func TestPlannedRangesFollowTheDirectoriesAndCoverEveryKey(t *testing.T) {
	ctx := context.Background()
	gcs := standin.NewGCS(t)
	gcs.CreateBucket("src", false)
	var keys []string
	for d := range 40 {
		for i := range 3 {
			keys = append(keys, fmt.Sprintf("assets/%02x/%d.jpg", d*6, i))
		}
	}
	keys = append(keys, "assets/\u00fc.txt", "assets/top.txt")
	slices.Sort(keys)
	for _, k := range keys {
		gcs.MustPutObject(t, standin.GCSObject{Bucket: "src", Key: k, Content: []byte("x")})
	}
	src := &XMLLister{Endpoint: gcs.URL, Bucket: "src"}
	ranges, err := PlanRanges(ctx, src, nil, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 8 || ranges[1].Through == "" || !strings.HasPrefix(ranges[1].Through, "assets/") {
		t.Fatalf("ranges %+v: want 8 cut between the directories under assets/", ranges)
	}
	var got []string
	perRange := map[int]int{}
	for i, r := range ranges {
		for o, err := range List(ctx, src, r, 1000) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, o.Key)
			perRange[i]++
		}
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("listed %d keys over the ranges, want each of %d once", len(got), len(keys))
	}
	for i := range ranges {
		if perRange[i] < len(keys)/16 {
			t.Fatalf("range %d holds %d of %d keys: the cuts do not spread them", i, perRange[i], len(keys))
		}
	}
}
