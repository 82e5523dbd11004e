package soak

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backtoorigin/backtoorigin/internal/contract"
	"github.com/backtoorigin/backtoorigin/local/harness"
	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// Report is what a run found. Failed lists every broken promise.
type Report struct {
	Seed            uint64
	Config          Config
	Setup, Elapsed  time.Duration
	Settled         bool
	Objects         int
	SourceBytes     int64 // of the versions the run ended with
	Landed          int   // in S3, byte-identical with metadata
	LandedOverwrote int   // of which an overwritten object (either version)
	DeadLettered    []Parked
	Lost            []string // neither in S3 nor in the DLQ
	Corrupt         []string // in S3 but not any source version, or metadata wrong
	Overwrites      []string // keys with a successful write on top of an existing object
	Recompleted     []string // the same upload completed twice (200 both times)
	ExtraKeys       []string // in S3 under a key no viewer asked for
	ViewerRequests  int
	ViewerWrong     []string
	ViewerKinds     map[string]int
	OpenUploads     []string
	Faults          map[string]int
	Source, S3      map[string]proxy.Traffic
	Deliveries      int
	Records         int
	FailedRecords   int
	FunctionErrors  map[string]int
	TimedOut        []string // keys in batches the runtime stopped at the deadline
	Outcomes        map[string]int
	EdgeSends       int
	AcksLost, Dups  int
	Kills           int
	StoredBytes     int64
	SourceReadBytes int64
	Logs            map[string][]string // per-key log of the objects that went wrong
	Failed          []string
}

// Parked is an object in the dead-letter queue.
type Parked struct {
	Key, Reason string
}

func messageKey(body string) string {
	var m struct {
		Key  string `json:"key"`
		Body string `json:"body"`
	}
	if json.Unmarshal([]byte(body), &m) != nil {
		return ""
	}
	if m.Key == "" && m.Body != "" {
		return messageKey(m.Body)
	}
	return m.Key
}

func (r *run) check(ctx context.Context) (*Report, error) {
	c := &checker{
		r:      r,
		rep:    &Report{Seed: r.cfg.Seed, Config: r.cfg, Objects: len(r.objects), Logs: map[string][]string{}, ViewerKinds: map[string]int{}},
		bad:    map[string]bool{},
		inS3:   map[string]*version{},
		parked: map[string]string{},
	}
	if err := c.s3Contents(ctx); err != nil {
		return nil, err
	}
	if err := c.deadLetters(ctx); err != nil {
		return nil, err
	}
	c.overwrites()
	if err := c.openUploads(ctx); err != nil {
		return nil, err
	}
	c.viewers(ctx)
	c.counters()
	c.verdict()
	return c.rep, nil
}

// checker is one check of a finished run: the report it fills, the keys
// whose story goes into it (bad), and what it found in S3 and in the
// dead-letter queue, which later steps read.
type checker struct {
	r      *run
	rep    *Report
	bad    map[string]bool
	inS3   map[string]*version // the source version each verified key in S3 is
	parked map[string]string   // dead-lettered key -> reason
}

// s3Contents lists S3, verifies every listed key against its source
// versions, and counts what landed and what S3 holds that no viewer asked for.
func (c *checker) s3Contents(ctx context.Context) error {
	r, rep, bad, inS3 := c.r, c.rep, c.bad, c.inS3
	// What S3 holds, read straight from the stand-in (no fault proxy).
	listed := map[string]bool{}
	var token *string
	for {
		out, err := r.h.S3Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(harness.S3Bucket), ContinuationToken: token})
		if err != nil {
			return fmt.Errorf("list S3: %w", err)
		}
		for _, o := range out.Contents {
			listed[aws.ToString(o.Key)] = true
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		token = out.NextContinuationToken
	}
	var inBoth []*object
	for _, o := range r.objects {
		rep.SourceBytes += o.snapshot()[len(o.snapshot())-1].size
		if listed[o.key] {
			inBoth = append(inBoth, o)
		}
	}
	var mu sync.Mutex
	twoAtATime(inBoth, func(o *object) {
		v, problem := r.verifyS3(ctx, o)
		mu.Lock()
		if problem != "" {
			rep.Corrupt = append(rep.Corrupt, fmt.Sprintf("%q: %s", o.key, problem))
			bad[o.key] = true
		} else {
			inS3[o.key] = v
		}
		mu.Unlock()
	})
	for k := range listed {
		if r.byKey[k] == nil {
			rep.ExtraKeys = append(rep.ExtraKeys, fmt.Sprintf("%q", k))
		}
	}
	for k, v := range inS3 {
		rep.Landed++
		rep.StoredBytes += v.size
		if len(r.byKey[k].snapshot()) > 1 {
			rep.LandedOverwrote++
		}
	}
	return nil
}

// deadLetters reads the dead-letter queue whole, and finds the keys that are
// lost: neither in S3 nor dead-lettered.
func (c *checker) deadLetters(ctx context.Context) error {
	r, rep, bad, inS3, parked := c.r, c.rep, c.bad, c.inS3, c.parked
	for empty := 0; empty < 2; {
		out, err := r.h.SQSClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(r.h.DeadLetterQueueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 600,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return fmt.Errorf("read the dead-letter queue: %w", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			key := messageKey(aws.ToString(m.Body))
			reason := ""
			if a, ok := m.MessageAttributes["reason"]; ok {
				reason = aws.ToString(a.StringValue)
			} else {
				// A message the queue's redrive policy moved carries no
				// reason of its own: the function's last error for the key is it.
				r.statsMu.Lock()
				last, n := r.lastError[key], r.receives[key]
				r.statsMu.Unlock()
				reason = fmt.Sprintf("moved by the redrive policy after %d receives (maxReceiveCount %d); last error: %s", n, contract.MaxReceiveCount, last)
			}
			if _, seen := parked[key]; !seen {
				parked[key] = reason
				rep.DeadLettered = append(rep.DeadLettered, Parked{Key: key, Reason: reason})
			}
		}
	}
	for _, o := range r.objects {
		_, landed := inS3[o.key]
		_, dl := parked[o.key]
		if !landed && !dl && !bad[o.key] {
			rep.Lost = append(rep.Lost, fmt.Sprintf("%q", o.key))
			bad[o.key] = true
		}
	}
	return nil
}

// overwrites finds overwrites, as counted on the way to S3: a successful
// write on a key that a different write (a PutObject, or the completion of
// another upload) had already made. Completing the same upload a second time
// (the engine retrying a CompleteMultipartUpload whose answer was lost) is
// no new content; it is counted apart.
func (c *checker) overwrites() {
	r, rep, bad := c.r, c.rep, c.bad
	for _, o := range r.objects {
		var first *proxy.S3Write
		for _, w := range r.h.Writes.Writes(o.key) {
			r.note(o.key, fmt.Sprintf("S3 write %s upload %q -> %d at %s", w.Op, w.UploadID, w.Status, w.At.Format("15:04:05.000")))
			if w.Status < 200 || w.Status > 299 {
				continue
			}
			switch {
			case first == nil:
				first = &w
			case w.Op == "CompleteMultipartUpload" && first.Op == w.Op && first.UploadID == w.UploadID:
				rep.Recompleted = append(rep.Recompleted, fmt.Sprintf("%q upload %s completed again at %s (first at %s)",
					o.key, w.UploadID, w.At.Format("15:04:05.000"), first.At.Format("15:04:05.000")))
				bad[o.key] = true
			default:
				rep.Overwrites = append(rep.Overwrites, fmt.Sprintf("%q: %s at %s after %s at %s",
					o.key, w.Op, w.At.Format("15:04:05.000"), first.Op, first.At.Format("15:04:05.000")))
				bad[o.key] = true
			}
		}
	}
}

// openUploads lists the multipart uploads left open (a crash leaves them to
// the lifecycle rule).
func (c *checker) openUploads(ctx context.Context) error {
	r, rep := c.r, c.rep
	ups, err := r.h.S3Client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(harness.S3Bucket)})
	if err != nil {
		return fmt.Errorf("list multipart uploads: %w", err)
	}
	for _, u := range ups.Uploads {
		rep.OpenUploads = append(rep.OpenUploads, fmt.Sprintf("%q", aws.ToString(u.Key)))
	}
	return nil
}

// viewers has viewers take a last look and judges every answer of the run.
func (c *checker) viewers(ctx context.Context) {
	r, rep, bad, inS3 := c.r, c.rep, c.bad, c.inS3
	// A last look by viewers, now that every copy is done: S3 must answer.
	r.finalPass(ctx, inS3)
	r.answers.mu.Lock()
	all := append([]*answer(nil), r.answers.all...)
	r.answers.mu.Unlock()
	for _, a := range all {
		rep.ViewerRequests++
		kind := a.method
		if a.from >= 0 {
			kind = "GET range"
		}
		rep.ViewerKinds[kind+" from "+a.origin]++
		if why := judge(a, inS3[a.obj.key]); why != "" {
			rep.ViewerWrong = append(rep.ViewerWrong, a.String()+": "+why)
			bad[a.obj.key] = true
		}
	}
}

// counters copies the run's counters into the report: faults injected,
// traffic through the proxies, deliveries and their outcomes; and the logs
// of every key whose story goes into the report.
func (c *checker) counters() {
	r, rep, bad := c.r, c.rep, c.bad
	rep.Faults = r.inj.totals()
	rep.Source, rep.S3 = r.h.SourceFaults.Totals(), r.h.S3Faults.Totals()
	for kind, t := range rep.Source {
		if strings.HasPrefix(kind, "GET") {
			rep.SourceReadBytes += t.ResponseBytes
		}
	}
	r.statsMu.Lock()
	rep.Deliveries, rep.Records, rep.FailedRecords = r.deliveries, r.records, r.failedRecords
	rep.FunctionErrors, rep.Outcomes = r.funcErrors, r.outcomes
	rep.AcksLost, rep.Dups, rep.Kills = r.acksLost, r.dupsSent, r.kills
	rep.TimedOut = r.timedOut
	r.statsMu.Unlock()
	rep.EdgeSends = len(r.h.Tap.Sends())
	for _, p := range rep.DeadLettered {
		bad[p.Key] = true // their story goes into the report too
	}
	for _, k := range r.timedOut {
		bad[k] = true // their story too
	}
	r.eventsMu.Lock()
	for k := range bad {
		rep.Logs[k] = r.events[k]
	}
	r.eventsMu.Unlock()
}

// verdict lists every broken promise in rep.Failed.
func (c *checker) verdict() {
	r, rep := c.r, c.rep
	fail := func(what string, items []string) {
		if len(items) > 0 {
			rep.Failed = append(rep.Failed, fmt.Sprintf("%d %s", len(items), what))
		}
	}
	fail("lost", rep.Lost)
	fail("corrupt", rep.Corrupt)
	fail("overwritten", rep.Overwrites)
	fail("extra keys in S3", rep.ExtraKeys)
	fail("wrong viewer answers", rep.ViewerWrong)
	for _, p := range rep.DeadLettered {
		if p.Key == "" || r.byKey[p.Key] == nil || p.Reason == "" {
			rep.Failed = append(rep.Failed, fmt.Sprintf("dead letter without a key or reason: %+v", p))
		}
	}
	if !rep.Settled && len(rep.Lost) > 0 {
		rep.Failed = append(rep.Failed, "the queue did not drain within the duration")
	}
}

// verifyS3 reads key from S3 and returns the source version it is, or why
// it is none: bytes, size and metadata must all be one version's, the one
// its source-generation names.
func (r *run) verifyS3(ctx context.Context, o *object) (*version, string) {
	out, err := r.h.S3Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(o.key)})
	if err != nil {
		return nil, "read back: " + err.Error()
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		return nil, "read back: " + err.Error()
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	gen := out.Metadata["source-generation"]
	v := o.byGeneration(gen)
	if v == nil {
		return nil, fmt.Sprintf("source-generation %q is no version of the object", gen)
	}
	var problems []string
	if sum != v.sha || n != v.size {
		problems = append(problems, fmt.Sprintf("%d bytes that are not generation %s's %d", n, gen, v.size))
	}
	check := func(what, got, want string) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s %q, want %q", what, got, want))
		}
	}
	check("Content-Type", aws.ToString(out.ContentType), v.contentType)
	check("Cache-Control", aws.ToString(out.CacheControl), v.cacheControl)
	check("Content-Encoding", aws.ToString(out.ContentEncoding), v.contentEncoding)
	for k, want := range v.metadata {
		check("metadata "+k, out.Metadata[k], want)
	}
	if len(problems) > 0 {
		return nil, strings.Join(problems, "; ")
	}
	return v, ""
}

// finalPass asks the front once more for every object in S3.
func (r *run) finalPass(ctx context.Context, inS3 map[string]*version) {
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}, Timeout: 2 * time.Minute}
	keys := make([]string, 0, len(inS3))
	for k := range inS3 {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var wg sync.WaitGroup
	work := make(chan string)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := &viewer{rng: rngFor(r.cfg.Seed, fmt.Sprint("final ", i)), client: client, front: r.h.FrontURL}
			for k := range work {
				a := v.request(ctx, r.byKey[k])
				a.finalPass = true
				r.answers.add(a)
			}
		}()
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
}
