// Package soak runs the whole local flow (local/harness: the front with the
// real edge handler, the queue, the real transfer binary under the local
// Lambda runtime, the stand-ins) for a bounded time with a few hundred
// objects, concurrent viewers and faults injected from a seed, then checks
// the promise: every requested object is in S3 exactly as at the source or
// in the dead-letter queue with a reason naming it, nothing in S3 was
// overwritten or corrupted, and no viewer got an answer the source would
// not give. `make soak` runs it (local/cmd/soak); it is not part of
// `make test`.
package soak

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/backtoorigin/backtoorigin/internal/contract"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
	"github.com/backtoorigin/backtoorigin/local/consumer"
	"github.com/backtoorigin/backtoorigin/local/harness"
	"github.com/backtoorigin/backtoorigin/local/lambdart"
)

// Config sizes a run. DefaultConfig is what `make soak` runs.
type Config struct {
	Seed     uint64
	Duration time.Duration // from the first viewer request to the checks

	Objects    int // in all
	Big        int // 100 MiB to BigMaxMiB each
	BigMaxMiB  int
	Multipart  int // a few parts each
	Gzip       int // stored gzip
	Overwrites int // objects overwritten at the source mid-copy

	Viewers   int     // concurrent viewers
	FaultRate float64 // multiplies every fault probability (0: no faults)
	Kills     int     // transfer processes killed mid-invocation
	// Duplicates and LostAcks bound the SQS faults: messages sent again
	// with a new deduplication id, and acknowledgements left undeleted.
	Duplicates, LostAcks int

	PartSizeMiB     int
	FunctionTimeout time.Duration
	// SourceMiBps caps each source read, as GCS's per-connection
	// throughput does; unpaced, the loopback copies a big object before
	// any deadline comes near.
	SourceMiBps float64

	Progress io.Writer // one line per phase (nil: discarded)
	Logs     io.Writer // raw logs of the edge handler and the transfer function
}

// DefaultConfig: about 1.2 GiB of objects, sized for a shared 2-core machine.
func DefaultConfig() Config {
	return Config{
		Duration: 5 * time.Minute,
		Objects:  300, Big: 3, BigMaxMiB: 250, Multipart: 15, Gzip: 30, Overwrites: 5,
		Viewers: 6, FaultRate: 1, Kills: 6, Duplicates: 40, LostAcks: 20,
		// 25 s leaves the engine 5 s to start parts (its stop margin is
		// 20 s), so the big objects take several invocations: deadlines
		// cut copies short as a matter of course.
		PartSizeMiB: 8, FunctionTimeout: 25 * time.Second, SourceMiBps: 3,
	}
}

type run struct {
	cfg     Config
	h       *harness.Harness
	objects []*object
	byKey   map[string]*object
	inj     *injector
	answers answers

	eventsMu sync.Mutex
	events   map[string][]string

	statsMu       sync.Mutex
	deliveries    int
	records       int
	failedRecords int
	funcErrors    map[string]int
	outcomes      map[string]int
	acksLost      int
	dupsSent      int
	kills         int
	lastError     map[string]string
	timedOut      []string       // keys of batches stopped at the deadline
	receives      map[string]int // most receives of one message of the key
	faultPhase    atomic.Bool
}

// note adds to a key's log (kept short: the report prints it for objects
// that went wrong).
func (r *run) note(key, event string) {
	r.eventsMu.Lock()
	defer r.eventsMu.Unlock()
	if len(r.events[key]) < 80 {
		r.events[key] = append(r.events[key], time.Now().Format("15:04:05.000")+" "+event)
	}
}

// rngFor is the random source for one purpose, derived from the seed.
func rngFor(seed uint64, purpose string) *rand.Rand {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h := sha256.Sum256(append(b[:], purpose...))
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:16])))
}

func (r *run) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "soak: "+format+"\n", args...)
	}
}

// Run runs one soak and returns its report; an error means the soak itself
// could not run (the report's Failed says whether the system kept its promise).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r := &run{cfg: cfg, byKey: map[string]*object{}, events: map[string][]string{},
		funcErrors: map[string]int{}, outcomes: map[string]int{}, lastError: map[string]string{}, receives: map[string]int{}}
	r.objects = plan(rngFor(cfg.Seed, "plan"), cfg)
	for _, o := range r.objects {
		r.byKey[o.key] = o
	}
	setupStart := time.Now()
	// Content first (it is drawn from the seed).
	twoAtATime(r.objects, func(o *object) {
		o.versions = []*version{newVersion(rngFor(cfg.Seed, "v0 "+o.key), cfg, o, 0, nil)}
	})

	r.inj = newInjector(cfg.Seed, cfg.FaultRate, int64(cfg.SourceMiBps*mib), r.byKey)
	r.inj.note = r.note
	r.inj.overwrite = r.overwrite
	var err error
	r.h, err = harness.Start(ctx, harness.Options{
		FunctionTimeout:   cfg.FunctionTimeout,
		VisibilityTimeout: cfg.FunctionTimeout + 5*time.Second,
		Instances:         2,
		TransferEnv:       []string{fmt.Sprintf("%s=%d", transferlambda.EnvPartSizeMiB, cfg.PartSizeMiB)},
		Faults:            true,
		GCSOnDisk:         true,
		LoseAck:           r.loseAck,
		Logs:              cfg.Logs,
		OnDelivery:        r.delivered,
		OnTransferLog:     r.transferLog,
	})
	if err != nil {
		return nil, fmt.Errorf("start the local system: %w", err)
	}
	defer r.h.Close()
	r.h.SourceFaults.SetPlan(r.inj.source)
	r.h.S3Faults.SetPlan(r.inj.s3)
	for _, o := range r.objects {
		if err := o.versions[0].put(r.h.GCS, o.key); err != nil {
			return nil, err
		}
	}
	r.progress("%d objects at the source, system up in %s", len(r.objects), time.Since(setupStart).Round(time.Second))

	start := time.Now()
	deadline := start.Add(cfg.Duration)
	// Faults and viewers stop early enough for a message that failed on
	// the last fault to be received MaxReceiveCount times and reach the
	// dead-letter queue before the deadline.
	settleTime := time.Duration(contract.MaxReceiveCount)*(cfg.FunctionTimeout+5*time.Second) + 20*time.Second
	faultEnd := deadline.Add(-settleTime)
	if min := start.Add(cfg.Duration * 3 / 10); faultEnd.Before(min) {
		faultEnd = min
	}
	runCtx, cancel := context.WithDeadline(ctx, deadline.Add(time.Minute))
	defer cancel()
	r.inj.active.Store(cfg.FaultRate > 0)
	r.faultPhase.Store(true)
	r.viewAndKill(runCtx, faultEnd)
	r.inj.active.Store(false)
	r.faultPhase.Store(false)
	r.progress("faults and viewers stopped after %s; draining the queue", time.Since(start).Round(time.Second))
	settled := r.drain(runCtx, deadline)
	r.progress("queue drained: %v, after %s; checking", settled, time.Since(start).Round(time.Second))
	rep, err := r.check(runCtx)
	if err != nil {
		return nil, err
	}
	rep.Settled = settled
	rep.Elapsed = time.Since(start)
	rep.Setup = start.Sub(setupStart)
	return rep, nil
}

// viewAndKill runs the viewers (each object once, in a seeded order, then
// at random) and the crashes until the fault phase ends.
func (r *run) viewAndKill(ctx context.Context, until time.Time) {
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true}, Timeout: 2 * time.Minute}
	firstPass := make(chan *object, len(r.objects))
	for _, i := range rngFor(r.cfg.Seed, "first pass").Perm(len(r.objects)) {
		firstPass <- r.objects[i]
	}
	close(firstPass)
	var wg sync.WaitGroup
	for i := range r.cfg.Viewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := &viewer{rng: rngFor(r.cfg.Seed, fmt.Sprint("viewer ", i)), client: client, front: r.h.FrontURL}
			for ctx.Err() == nil {
				o, ok := <-firstPass
				if !ok {
					o = r.objects[v.rng.IntN(len(r.objects))]
					if o.kind == kindBig || o.kind == kindMultipart {
						o = r.objects[v.rng.IntN(len(r.objects))] // fewer repeats of the large ones
					}
				}
				a := v.request(ctx, o)
				if ctx.Err() != nil && a.err != nil {
					return // cut by the phase's end, not by the system
				}
				r.answers.add(a)
				sleep(ctx, time.Duration(50+v.rng.IntN(200))*time.Millisecond)
			}
		}()
	}
	// Crashes: at seeded moments, the first instance found running an
	// invocation within the next 10 s (a seeded one first).
	rng := rngFor(r.cfg.Seed, "kills")
	for r.kills < r.cfg.Kills && ctx.Err() == nil && r.cfg.FaultRate > 0 {
		sleep(ctx, time.Duration(4+rng.IntN(10))*time.Second)
		first := rng.IntN(len(r.h.Instances))
		for wait := 0; wait < 100 && ctx.Err() == nil; wait++ {
			inst := r.h.Instances[(first+wait)%len(r.h.Instances)]
			if inst.KillIfBusy() {
				r.statsMu.Lock()
				r.kills++
				r.statsMu.Unlock()
				r.progress("killed a transfer process mid-invocation")
				break
			}
			sleep(ctx, 100*time.Millisecond)
		}
	}
	wg.Wait()
}

// overwrite replaces o at the source with its next version (the fault
// injector calls it while the transfer function reads o).
func (r *run) overwrite(o *object) {
	o.mu.Lock()
	prev := o.versions[len(o.versions)-1]
	o.mu.Unlock()
	v := newVersion(rngFor(r.cfg.Seed, "v1 "+o.key), r.cfg, o, prev.index+1, prev)
	if err := v.put(r.h.GCS, o.key); err != nil {
		r.note(o.key, "overwrite failed: "+err.Error())
		return
	}
	o.mu.Lock()
	prev.replaced = time.Now()
	o.versions = append(o.versions, v)
	o.mu.Unlock()
	r.note(o.key, fmt.Sprintf("source overwritten: generation %s -> %s", prev.generation, v.generation))
}

// loseAck leaves some acknowledged records undeleted (SQS delivers them
// again after the visibility timeout).
func (r *run) loseAck(m events.SQSMessage) bool {
	if !r.faultPhase.Load() || r.cfg.FaultRate == 0 {
		return false
	}
	if r.inj.draw("ack|"+m.Body).Float64() >= 0.06*r.cfg.FaultRate {
		return false
	}
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.acksLost >= r.cfg.LostAcks {
		return false
	}
	r.acksLost++
	r.note(messageKey(m.Body), "fault: acknowledgement lost (redelivery after the visibility timeout)")
	return true
}

func (r *run) delivered(d consumer.Delivery) {
	r.statsMu.Lock()
	r.deliveries++
	r.records += len(d.Records)
	if d.Err != nil {
		var fe *lambdart.FunctionError
		name := "other"
		if errors.As(d.Err, &fe) {
			name = fe.Type
		}
		r.funcErrors[name]++
		if name == "Sandbox.Timedout" {
			for _, rec := range d.Records {
				r.timedOut = append(r.timedOut, messageKey(rec.Body))
			}
		}
		r.failedRecords += len(d.Records)
	} else {
		r.failedRecords += len(d.Failed)
	}
	r.statsMu.Unlock()
	for _, rec := range d.Records {
		key := messageKey(rec.Body)
		state := "acknowledged"
		switch {
		case d.Err != nil:
			state = "batch failed: " + d.Err.Error()
		case d.Failed[rec.MessageId]:
			state = "reported failed"
		}
		r.note(key, fmt.Sprintf("delivery (receive %s) %s", rec.Attributes["ApproximateReceiveCount"], state))
		if n, err := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"]); err == nil {
			r.statsMu.Lock()
			r.receives[key] = max(r.receives[key], n)
			r.statsMu.Unlock()
		}
		r.maybeDuplicate(rec)
	}
}

// maybeDuplicate sends a delivered message again under a new
// deduplication id, as a second edge container or a producer retry would.
func (r *run) maybeDuplicate(rec events.SQSMessage) {
	if !r.faultPhase.Load() || r.cfg.FaultRate == 0 || r.inj.draw("dup|"+rec.Body).Float64() >= 0.1*r.cfg.FaultRate {
		return
	}
	r.statsMu.Lock()
	if r.dupsSent >= r.cfg.Duplicates {
		r.statsMu.Unlock()
		return
	}
	r.dupsSent++
	n := r.dupsSent
	r.statsMu.Unlock()
	group := rec.Attributes["MessageGroupId"]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := r.h.SQSClient.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(r.h.QueueURL), MessageBody: aws.String(rec.Body),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(fmt.Sprintf("soak-duplicate-%d", n)),
	})
	if err != nil {
		r.note(messageKey(rec.Body), "duplicate not sent: "+err.Error())
		return
	}
	r.note(messageKey(rec.Body), "fault: message sent again (duplicate)")
}

func (r *run) transferLog(entry map[string]any) {
	key, _ := entry["key"].(string)
	if key == "" {
		return
	}
	outcome, _ := entry["outcome"].(string)
	msg, _ := entry["msg"].(string)
	errText, _ := entry["error"].(string)
	if outcome != "" {
		r.statsMu.Lock()
		r.outcomes[outcome]++
		if errText != "" {
			r.lastError[key] = errText
		}
		r.statsMu.Unlock()
		r.note(key, fmt.Sprintf("transfer: %s %v bytes %s", outcome, entry["bytes"], errText))
		return
	}
	r.note(key, "transfer log: "+msg+" "+errText)
}

// drain waits until the transfer queue holds nothing, waiting or in flight,
// on three polls in a row, or until the deadline.
func (r *run) drain(ctx context.Context, deadline time.Time) bool {
	empty := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, err := r.h.QueueDepth(ctx, r.h.QueueURL)
		if err == nil && n == 0 {
			empty++
			if empty == 3 {
				return true
			}
		} else {
			empty = 0
		}
		sleep(ctx, 2*time.Second)
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
