package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/time/rate"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// Queue is the part of the SQS client a backfill uses.
type Queue interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ Queue = (*sqs.Client)(nil)

// BackfillOptions configure Backfill.
type BackfillOptions struct {
	Prefixes []string
	Ranges   int // ranges per prefix, listed in parallel (default DefaultRanges)
	DryRun   bool
	// Refresh also queues keys that changed at the source after this
	// system copied them (see Sides.Resolve); copies without the
	// source-generation metadata are counted as foreign, never queued.
	Refresh bool
	// Rate caps messages per second (0: no cap).
	Rate float64
	// MaxQueued keeps the transfer queue's depth under this many messages
	// (0: no bound): messages older than the queue's retention expire
	// silently, so a backfill must not run far ahead of the copies.
	MaxQueued int
	Queue     Queue
	QueueURL  string
	// Checkpoint is the state file (none: no resume). Identity names what
	// this backfill is (buckets, queue), so a checkpoint is only ever
	// resumed by the same backfill.
	Checkpoint string
	Identity   string
	// Progress is called from time to time.
	Progress func(BackfillProgress)
	// OnForeign is called for each key --refresh found but may not replace,
	// and for each missing key that is KindExcluded: neither is queued.
	OnForeign func(Entry)
	// DepthPoll is how often the queue depth is read while waiting (default 2 s).
	DepthPoll time.Duration
}

// BackfillProgress is a backfill's progress so far.
type BackfillProgress struct {
	Listed     int64 // source keys looked at
	Queued     Tally // missing keys queued (or, dry run, that would be)
	Refreshed  Tally // stale copies queued for replacement
	RangesDone int
	Ranges     int
	Waiting    bool // held back by MaxQueued
}

// BackfillSummary is what a backfill did.
type BackfillSummary struct {
	DryRun    bool  `json:"dryRun"`
	Resumed   bool  `json:"resumed"`
	Listed    Tally `json:"listed"`    // source keys listed by this run
	Present   Tally `json:"present"`   // already in S3
	Queued    Tally `json:"queued"`    // missing keys queued, over every run of this backfill
	Refreshed Tally `json:"refreshed"` // stale copies queued for replacement, over every run
	Foreign   Tally `json:"foreign"`   // changed at the source, S3's object not ours: never queued
	// Excluded are missing keys never to be copied (KindExcluded): the key
	// rules leave them out, or the transfer would refuse them as malformed.
	Excluded Tally `json:"excluded"`
	Pages    int64 `json:"listPages"` // source listing calls by this run
	// SourceRequests is how many HEADs and GETs the transfer function will
	// make at the source for the objects this run queued.
	SourceRequests int64   `json:"sourceRequests"`
	Seconds        float64 `json:"seconds"`
}

// maxBatch is SQS's SendMessageBatch limit.
const maxBatch = 10

// Backfill queues every source key missing in S3 (and, with Refresh, every
// stale copy) on the transfer queue, as the edge handler would: the same
// message, group and deduplication id = sha256 hex of the key.
func Backfill(ctx context.Context, s *Sides, opts BackfillOptions) (BackfillSummary, error) {
	start := time.Now()
	if opts.Ranges <= 0 {
		opts.Ranges = DefaultRanges
	}
	if opts.DepthPoll <= 0 {
		opts.DepthPoll = 2 * time.Second
	}
	plan := func() ([]Range, error) { return PlanRanges(ctx, s.Source, opts.Prefixes, opts.Ranges) }
	b := &backfill{s: s, opts: opts}
	if opts.Rate > 0 {
		b.limit = rate.NewLimiter(rate.Limit(opts.Rate), max(maxBatch, int(opts.Rate)))
	}
	if !opts.DryRun && opts.Checkpoint != "" {
		var (
			resumed bool
			err     error
		)
		b.cp, resumed, err = openCheckpoint(opts.Checkpoint, b.fingerprint(), plan)
		if err != nil {
			return BackfillSummary{}, err
		}
		b.ranges = b.cp.ranges()
		b.queued.restore(b.cp.Queued)
		b.refreshed.restore(b.cp.Refreshed)
		b.resumed = resumed
	}
	if b.ranges == nil {
		var err error
		if b.ranges, err = plan(); err != nil {
			return BackfillSummary{}, err
		}
	}
	if !opts.DryRun {
		if _, err := b.depth(ctx); err != nil { // a missing queue fails now, not mid-listing
			return BackfillSummary{}, err
		}
	}
	err := forRanges(ctx, b.ranges, opts.Ranges, b.runRange)
	b.report(true)
	sum := b.summary(start)
	if err != nil {
		return sum, err
	}
	if len(opts.Prefixes) > 0 && !b.resumed {
		if err := b.seen.check(opts.Prefixes); err != nil {
			return sum, err
		}
	}
	return sum, b.cp.remove()
}

type backfill struct {
	s       *Sides
	opts    BackfillOptions
	ranges  []Range
	cp      *Checkpoint
	resumed bool
	limit   *rate.Limiter
	seen    prefixSeen

	listed, present, queued, refreshed, foreign, excluded counter
	pages, requests                                       atomic.Int64
	rangesDone                                            atomic.Int64
	waiting                                               atomic.Bool

	// The queue bound's books: reserved counts messages let through
	// (cumulative), done those whose send has returned; a depth read
	// includes at most the messages done before it began (depthBase).
	depthMu   sync.Mutex
	depthAt   time.Time
	lastDepth int
	depthBase int
	reserved  int
	done      int

	reportMu sync.Mutex
	reported time.Time
}

func (b *backfill) fingerprint() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{
		b.opts.Identity, b.opts.QueueURL, strconv.FormatBool(b.opts.Refresh), strconv.Itoa(b.opts.Ranges),
		strings.Join(b.opts.Prefixes, "\x00"),
	}, "\x01")))
	return hex.EncodeToString(sum[:])
}

// countingLister counts the source's listing calls, for the cost estimate.
type countingLister struct {
	Lister
	pages *atomic.Int64
}

func (c countingLister) ListPage(ctx context.Context, prefix, startAfter, token string, pageSize int) ([]Object, string, error) {
	c.pages.Add(1)
	return c.Lister.ListPage(ctx, prefix, startAfter, token, pageSize)
}

func (b *backfill) runRange(ctx context.Context, i int, r Range) error {
	if b.cp != nil {
		var done bool
		if r, done = b.cp.resumeRange(i); done {
			b.rangesDone.Add(1)
			return nil
		}
	}
	var batch []pending
	flush := func(last string, done bool) error {
		if err := b.send(ctx, batch); err != nil {
			return err
		}
		batch = batch[:0]
		b.report(false)
		return b.cp.advance(i, last, done, b.queued.tally(), b.refreshed.tally())
	}
	src := countingLister{b.s.Source, &b.pages}
	for e, err := range Join(List(ctx, src, r, b.s.PageSize), List(ctx, b.s.DestLister(), r, b.s.PageSize)) {
		if err != nil {
			return err
		}
		if e.Source == nil {
			continue // extra keys are verify's business
		}
		b.seen.mark(r.Prefix)
		b.listed.add(e.Source.Size)
		if b.opts.Refresh && e.Kind == KindStale {
			// A size difference from the listings: the HEAD decides whether
			// this system's copy of an older generation is what S3 holds.
			e.Kind, e.Candidate = KindSame, true
		}
		if b.opts.Refresh {
			if err := b.s.Resolve(ctx, &e, false); err != nil {
				return err
			}
			if e.Candidate && e.Kind == KindSame && e.Source.Size != e.Dest.Size {
				// Our metadata names the current generation, yet the sizes
				// differ: not a copy this system made of it. Never replaced.
				e.Kind = KindForeign
			}
		}
		b.s.exclude(&e)
		switch e.Kind {
		case KindMissing:
			batch = append(batch, pending{entry: e})
		case KindExcluded:
			b.excluded.add(e.Source.Size)
			if b.opts.OnForeign != nil {
				b.opts.OnForeign(e)
			}
		case KindStale:
			if b.opts.Refresh {
				batch = append(batch, pending{entry: e, refresh: true})
			} else {
				b.present.add(e.Source.Size)
			}
		case KindForeign:
			b.foreignKey(e)
		default:
			b.present.add(e.Source.Size)
		}
		if len(batch) == maxBatch {
			if err := flush(batch[len(batch)-1].entry.Key, false); err != nil {
				return err
			}
		}
	}
	if err := flush("", true); err != nil {
		return err
	}
	b.rangesDone.Add(1)
	return nil
}

func (b *backfill) foreignKey(e Entry) {
	b.foreign.add(e.Source.Size)
	if b.opts.OnForeign != nil {
		b.opts.OnForeign(e)
	}
}

type pending struct {
	entry   Entry
	refresh bool
}

// message is the edge handler's message for a key (lambda/edge/index.mjs:
// v, key, size, generation, etag), plus refresh for a replacement.
func (p pending) message() queuemsg.Message {
	o := p.entry.Source
	m := queuemsg.Message{V: queuemsg.Version, Key: o.Key, Size: &o.Size, Generation: o.Generation, ETag: o.ETag}
	if p.refresh {
		m.Refresh = &queuemsg.Refresh{ETag: p.entry.Dest.ETag}
	}
	return m
}

// dedupID is the edge's (sha256 hex of the key) for a missing key, so a
// backfill and a viewer's miss within five minutes are one message. A
// refresh names the S3 object it replaces, so a later refresh of the same
// key (after the source changed again) is not taken for a duplicate.
func (p pending) dedupID() string {
	if p.refresh {
		return queuemsg.KeyHash(p.entry.Key + "\x00refresh\x00" + p.entry.Dest.ETag)
	}
	return queuemsg.KeyHash(p.entry.Key)
}

// send queues a batch, retrying entries SQS reports as failed; only a
// batch SQS accepted whole moves the checkpoint.
func (b *backfill) send(ctx context.Context, batch []pending) error {
	if len(batch) == 0 {
		return nil
	}
	if b.opts.DryRun {
		for _, p := range batch {
			b.count(p)
		}
		return nil
	}
	if err := b.waitForRoom(ctx, len(batch)); err != nil {
		return err
	}
	defer func() {
		b.depthMu.Lock()
		b.done += len(batch)
		b.depthMu.Unlock()
	}()
	if b.limit != nil {
		if err := b.limit.WaitN(ctx, len(batch)); err != nil {
			return err
		}
	}
	entries := make([]sqstypes.SendMessageBatchRequestEntry, len(batch))
	byID := map[string]pending{}
	for i, p := range batch {
		body, err := json.Marshal(p.message())
		if err != nil {
			return fmt.Errorf("encode message for %q: %w", p.entry.Key, err)
		}
		id := strconv.Itoa(i)
		entries[i] = sqstypes.SendMessageBatchRequestEntry{
			Id:                     aws.String(id),
			MessageBody:            aws.String(string(body)),
			MessageGroupId:         aws.String(queuemsg.KeyHash(p.entry.Key)),
			MessageDeduplicationId: aws.String(p.dedupID()),
		}
		byID[id] = p
	}
	for attempt := 0; len(entries) > 0; attempt++ {
		out, err := b.opts.Queue.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &b.opts.QueueURL, Entries: entries})
		if err != nil {
			return fmt.Errorf("send to the transfer queue: %w", err)
		}
		for _, ok := range out.Successful {
			b.count(byID[aws.ToString(ok.Id)])
		}
		if len(out.Failed) == 0 {
			break
		}
		if attempt == 4 {
			f := out.Failed[0]
			return fmt.Errorf("the transfer queue refused %q: %s: %s", byID[aws.ToString(f.Id)].entry.Key, aws.ToString(f.Code), aws.ToString(f.Message))
		}
		retry := entries[:0:0]
		for _, f := range out.Failed {
			if f.SenderFault {
				return fmt.Errorf("the transfer queue refused %q: %s: %s", byID[aws.ToString(f.Id)].entry.Key, aws.ToString(f.Code), aws.ToString(f.Message))
			}
			for _, e := range entries {
				if aws.ToString(e.Id) == aws.ToString(f.Id) {
					retry = append(retry, e)
				}
			}
		}
		entries = retry
		select {
		case <-time.After(time.Duration(200<<attempt) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// SourceRequests is what the transfer function asks the source for to copy
// an object of size bytes: a HEAD, a GET per part (one for a small object),
// and a HEAD before completing a multipart upload.
func SourceRequests(size int64) int64 {
	part := int64(transfer.DefaultPartSize)
	if size <= part {
		return 2
	}
	return 1 + (size+part-1)/part + 1
}

func (b *backfill) count(p pending) {
	b.requests.Add(SourceRequests(p.entry.Source.Size))
	if p.refresh {
		b.refreshed.add(p.entry.Source.Size)
	} else {
		b.queued.add(p.entry.Source.Size)
	}
}

// ErrNoQueue: the queue URL names no queue.
var ErrNoQueue = errors.New("the transfer queue does not exist")

// depth reads the queue's depth: waiting, in flight and delayed.
func (b *backfill) depth(ctx context.Context) (int, error) {
	out, err := b.opts.Queue.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &b.opts.QueueURL,
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		var missing *sqstypes.QueueDoesNotExist
		if errors.As(err, &missing) || strings.Contains(err.Error(), "NonExistentQueue") || strings.Contains(err.Error(), "QueueDoesNotExist") {
			return 0, fmt.Errorf("%w: %s", ErrNoQueue, b.opts.QueueURL)
		}
		return 0, fmt.Errorf("read the depth of %s: %w", b.opts.QueueURL, err)
	}
	n := 0
	for _, v := range out.Attributes {
		c, _ := strconv.Atoi(v)
		n += c
	}
	return n, nil
}

// waitForRoom holds a batch back while the queue would exceed MaxQueued:
// its depth as last read, plus every message this run let through that the
// read may not include (sends still running when it began, and since).
// Room is reserved under the lock, so ranges sending at once cannot
// together pass the bound; a failed send keeps its reservation until the
// next read, which errs on the safe side.
func (b *backfill) waitForRoom(ctx context.Context, n int) error {
	if b.opts.MaxQueued <= 0 {
		return nil
	}
	for {
		b.depthMu.Lock()
		stale := time.Since(b.depthAt) > b.opts.DepthPoll
		base := b.done
		b.depthMu.Unlock()
		if stale {
			d, err := b.depth(ctx)
			if err != nil {
				return err
			}
			b.depthMu.Lock()
			b.depthAt, b.lastDepth, b.depthBase = time.Now(), d, base
			b.depthMu.Unlock()
		}
		b.depthMu.Lock()
		room := b.lastDepth+(b.reserved-b.depthBase)+n <= b.opts.MaxQueued
		if room {
			b.reserved += n
		}
		b.depthMu.Unlock()
		if room {
			b.waiting.Store(false)
			return nil
		}
		b.waiting.Store(true)
		b.report(false)
		select {
		case <-time.After(b.opts.DepthPoll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *backfill) progress() BackfillProgress {
	return BackfillProgress{
		Listed: b.listed.objects.Load(), Queued: b.queued.tally(), Refreshed: b.refreshed.tally(),
		RangesDone: int(b.rangesDone.Load()), Ranges: len(b.ranges), Waiting: b.waiting.Load(),
	}
}

// report calls Progress at most ten times a second, unless final.
func (b *backfill) report(final bool) {
	if b.opts.Progress == nil {
		return
	}
	b.reportMu.Lock()
	defer b.reportMu.Unlock()
	if !final && time.Since(b.reported) < 100*time.Millisecond {
		return
	}
	b.reported = time.Now()
	b.opts.Progress(b.progress())
}

func (b *backfill) summary(start time.Time) BackfillSummary {
	return BackfillSummary{
		DryRun: b.opts.DryRun, Resumed: b.resumed,
		Listed: b.listed.tally(), Present: b.present.tally(), Queued: b.queued.tally(),
		Refreshed: b.refreshed.tally(), Foreign: b.foreign.tally(), Excluded: b.excluded.tally(), Pages: b.pages.Load(), SourceRequests: b.requests.Load(),
		Seconds: time.Since(start).Seconds(),
	}
}
