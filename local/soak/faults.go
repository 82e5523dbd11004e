package soak

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backtoorigin/backtoorigin/local/harness"
	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// injector decides every fault. A decision depends on the seed, what the
// request is (road, operation, key, range or part) and how many such
// requests came before: not on arrival order across keys, so a replay with
// the same seed injects the same faults into the same requests even though
// concurrent requests interleave differently.
type injector struct {
	seed       uint64
	rate       float64
	sourceRate int64       // bytes a second per source GET
	active     atomic.Bool // faults only during the fault phase

	mu      sync.Mutex
	seen    map[string]int
	counts  map[string]int
	budgets map[string]int // faults that cost a client timeout each are few

	overwrite func(o *object)         // replaces o at the source
	note      func(key, event string) // the per-key log of the report
	objects   map[string]*object
	claimed   map[string]bool // overwrite of a key already triggered
}

func newInjector(seed uint64, rate float64, sourceRate int64, objects map[string]*object) *injector {
	return &injector{
		seed: seed, rate: rate, sourceRate: sourceRate,
		seen: map[string]int{}, counts: map[string]int{}, objects: objects, claimed: map[string]bool{},
		budgets: map[string]int{"source stall": 4, "S3 stall upload": 3},
	}
}

// draw returns the random source for the next request with signature sig.
func (in *injector) draw(sig string) *rand.Rand {
	in.mu.Lock()
	n := in.seen[sig]
	in.seen[sig]++
	in.mu.Unlock()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], in.seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(n))
	h := sha256.Sum256(append(b[:], sig...))
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:16])))
}

// count records an injected fault; with a budget, it reports false once
// the budget is spent (and counts nothing).
func (in *injector) count(name string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if b, ok := in.budgets[name]; ok {
		if b == 0 {
			return false
		}
		in.budgets[name] = b - 1
	}
	in.counts[name]++
	return true
}

func (in *injector) totals() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := map[string]int{}
	for k, v := range in.counts {
		out[k] = v
	}
	return out
}

// choice is one fault with its probability (before the rate multiplier).
type choice struct {
	name  string
	p     float64
	fault func(rng *rand.Rand) proxy.Fault
}

func (in *injector) pick(rng *rand.Rand, key, what string, choices []choice) proxy.Fault {
	x := rng.Float64()
	for _, c := range choices {
		if x < c.p*in.rate {
			if f := c.fault(rng); !f.Zero() && in.count(c.name) {
				in.note(key, "fault: "+c.name+" on "+what)
				return f
			}
			return proxy.Fault{}
		}
		x -= c.p * in.rate
	}
	return proxy.Fault{}
}

func keyOf(r *http.Request, bucket string) string {
	k, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/"+bucket+"/"))
	return k
}

func status(code int) func(*rand.Rand) proxy.Fault {
	return func(*rand.Rand) proxy.Fault { return proxy.Fault{Status: code} }
}

func s3Error(code int, name string) func(*rand.Rand) proxy.Fault {
	return func(*rand.Rand) proxy.Fault { return proxy.Fault{Status: code, Code: name} }
}

// source plans the transfer function's requests to GCS.
func (in *injector) source(r *http.Request) proxy.Fault {
	f := in.sourceFault(r)
	if r.Method == http.MethodGet {
		f.BytesPerSecond = in.sourceRate
	}
	return f
}

func (in *injector) sourceFault(r *http.Request) proxy.Fault {
	key := keyOf(r, harness.GCSBucket)
	rng := in.draw("source|" + r.Method + "|" + key + "|" + r.Header.Get("Range"))
	if !in.active.Load() {
		return proxy.Fault{}
	}
	if f, ok := in.overwriteMidCopy(r, key); ok {
		return f
	}
	if r.Method == http.MethodHead {
		return in.pick(rng, key, "HEAD", []choice{
			{"source 503", 0.02, status(503)},
			{"source 429", 0.02, status(429)},
			{"source delay", 0.02, func(rng *rand.Rand) proxy.Fault { return proxy.Fault{Delay: delay(rng)} }},
		})
	}
	return in.pick(rng, key, "GET "+r.Header.Get("Range"), []choice{
		{"source 503", 0.03, status(503)},
		{"source 429", 0.02, status(429)},
		{"source 500", 0.01, status(500)},
		{"source cut mid-body", 0.03, func(rng *rand.Rand) proxy.Fault { return proxy.Fault{CutResponseAt: 1 + rng.Int64N(4*mib)} }},
		{"source stall", 0.007, func(rng *rand.Rand) proxy.Fault { return proxy.Fault{StallResponseAt: 1 + rng.Int64N(2*mib)} }},
		{"source delay", 0.02, func(rng *rand.Rand) proxy.Fault { return proxy.Fault{Delay: delay(rng)} }},
	})
}

// overwriteMidCopy replaces an object chosen for it while the transfer
// function reads it: a multipart object at a part after the first, a small
// one at its GET (after the HEAD that pinned the generation).
func (in *injector) overwriteMidCopy(r *http.Request, key string) (proxy.Fault, bool) {
	o := in.objects[key]
	if o == nil || !o.overwrite || r.Method != http.MethodGet {
		return proxy.Fault{}, false
	}
	rng := r.Header.Get("Range")
	if o.kind == kindMultipart && (rng == "" || strings.HasPrefix(rng, "bytes=0-")) {
		return proxy.Fault{}, false
	}
	in.mu.Lock()
	if in.claimed[key] {
		in.mu.Unlock()
		return proxy.Fault{}, false
	}
	in.claimed[key] = true
	in.counts["source overwritten mid-copy"]++
	in.mu.Unlock()
	in.note(key, "fault: source overwritten at GET "+rng)
	return proxy.Fault{Before: func() { in.overwrite(o) }}, true
}

// s3 plans the transfer function's requests to S3.
func (in *injector) s3(r *http.Request) proxy.Fault {
	kind := proxy.S3Kind(r)
	key := keyOf(r, harness.S3Bucket)
	rng := in.draw("s3|" + kind + "|" + key + "|" + r.URL.Query().Get("partNumber"))
	if !in.active.Load() {
		return proxy.Fault{}
	}
	cutUpload := func(rng *rand.Rand) proxy.Fault {
		if r.ContentLength > 1 {
			return proxy.Fault{CutRequestAt: 1 + rng.Int64N(r.ContentLength-1)}
		}
		return proxy.Fault{CutResponse: true}
	}
	stallUpload := func(rng *rand.Rand) proxy.Fault {
		if r.ContentLength > 1 {
			return proxy.Fault{StallRequestAt: 1 + rng.Int64N(r.ContentLength-1)}
		}
		return proxy.Fault{}
	}
	what := kind + " " + r.URL.Query().Get("partNumber")
	switch kind {
	case "PutObject", "UploadPart":
		choices := []choice{
			{"S3 503 SlowDown", 0.03, s3Error(503, "SlowDown")},
			{"S3 500 InternalError", 0.01, s3Error(500, "InternalError")},
			{"S3 cut upload", 0.02, cutUpload},
			{"S3 cut response after write", 0.01, func(*rand.Rand) proxy.Fault { return proxy.Fault{CutResponse: true} }},
			{"S3 stall upload", 0.005, stallUpload},
		}
		if kind == "PutObject" {
			choices = append(choices, choice{"S3 409 ConditionalRequestConflict", 0.02, s3Error(409, "ConditionalRequestConflict")})
		}
		return in.pick(rng, key, what, choices)
	case "CompleteMultipartUpload":
		return in.pick(rng, key, what, []choice{
			{"S3 409 ConditionalRequestConflict", 0.05, s3Error(409, "ConditionalRequestConflict")},
			{"S3 503 SlowDown", 0.03, s3Error(503, "SlowDown")},
			{"S3 cut response after write", 0.04, func(*rand.Rand) proxy.Fault { return proxy.Fault{CutResponse: true} }},
		})
	default:
		return in.pick(rng, key, what, []choice{
			{"S3 503 SlowDown", 0.02, s3Error(503, "SlowDown")},
			{"S3 500 InternalError", 0.01, s3Error(500, "InternalError")},
			{"S3 cut response", 0.01, func(*rand.Rand) proxy.Fault { return proxy.Fault{CutResponse: true} }},
		})
	}
}

// delay is a slow answer: half a second to two.
func delay(rng *rand.Rand) time.Duration {
	return 500*time.Millisecond + time.Duration(rng.Int64N(int64(1500*time.Millisecond)))
}

// sortedKeys lists a count map's keys in order, for the report.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
