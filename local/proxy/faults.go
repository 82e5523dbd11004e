package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is what a Faults proxy does to one request; the zero Fault relays
// it untouched.
type Fault struct {
	// Status answers with this status instead of relaying. With Code set
	// the body is an S3 XML error with that code (SlowDown,
	// ConditionalRequestConflict, ...), else a plain text line.
	Status int
	Code   string
	// Delay waits before relaying.
	Delay time.Duration
	// CutRequestAt relays this many bytes of the request body, then cuts
	// the connection (an upload that dies on the way).
	CutRequestAt int64
	// StallRequestAt relays this many bytes of the request body, then stops
	// reading it (a server that stopped taking an upload) until the client
	// gives up or MaxStall passes.
	StallRequestAt int64
	// CutResponse relays the request, lets the upstream answer, then cuts
	// the connection before the client sees the answer (the call may have
	// taken effect: a write whose response is lost).
	CutResponse bool
	// CutResponseAt relays this many response body bytes, then cuts.
	CutResponseAt int64
	// StallResponseAt relays this many response body bytes, then sends
	// nothing until the client gives up or MaxStall passes.
	StallResponseAt int64
	// BytesPerSecond paces the response body (0: as fast as it comes), as
	// a real origin's per-connection throughput would.
	BytesPerSecond int64
	// Before runs before relaying (e.g. overwrite the object at the source).
	Before func()
}

// Zero reports whether f relays the request untouched.
func (f Fault) Zero() bool {
	return f.Status == 0 && f.Delay == 0 && f.CutRequestAt == 0 && f.StallRequestAt == 0 &&
		!f.CutResponse && f.CutResponseAt == 0 && f.StallResponseAt == 0 && f.Before == nil
}

// MaxStall bounds a stall, so a client without its own timeout cannot hold
// a soak past its end: the connection is cut then.
const MaxStall = 45 * time.Second

// Faults is an HTTP reverse proxy on the road to a stand-in that injects
// the fault its Plan chooses per request and counts what passed: requests
// by kind and the body bytes relayed each way. Host is kept as the client
// sent it, so SigV4 signatures stay valid; bytes pass as they come (no
// decompression). Test and soak harness only.
type Faults struct {
	upstream string
	client   *http.Client
	kind     func(r *http.Request) string

	closing   chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	plan   func(r *http.Request) Fault
	counts map[string]*Traffic
}

// Traffic is the total for one kind of request.
type Traffic struct {
	Requests      int
	RequestBytes  int64 // request body bytes relayed upstream
	ResponseBytes int64 // response body bytes relayed to the client
}

// NewFaults forwards to upstream (http://host:port); kind names a request
// for the totals (nil: its method).
func NewFaults(upstream string, kind func(r *http.Request) string) *Faults {
	if kind == nil {
		kind = func(r *http.Request) string { return r.Method }
	}
	return &Faults{
		upstream: strings.TrimSuffix(upstream, "/"),
		kind:     kind,
		client: &http.Client{
			Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		closing: make(chan struct{}),
		counts:  map[string]*Traffic{},
	}
}

// SetPlan installs the function choosing each request's fault (nil relays
// everything). It is called concurrently.
func (p *Faults) SetPlan(plan func(r *http.Request) Fault) {
	p.mu.Lock()
	p.plan = plan
	p.mu.Unlock()
}

// Close ends every stall at once.
func (p *Faults) Close() error {
	p.closeOnce.Do(func() { close(p.closing) })
	return nil
}

// Totals returns a copy of the per-kind totals.
func (p *Faults) Totals() map[string]Traffic {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]Traffic, len(p.counts))
	for k, v := range p.counts {
		out[k] = *v
	}
	return out
}

func (p *Faults) add(kind string, req, resp int64) {
	p.mu.Lock()
	t := p.counts[kind]
	if t == nil {
		t = &Traffic{}
		p.counts[kind] = t
	}
	t.RequestBytes += req
	t.ResponseBytes += resp
	p.mu.Unlock()
}

func (p *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := p.kind(r)
	p.mu.Lock()
	if p.counts[kind] == nil {
		p.counts[kind] = &Traffic{}
	}
	p.counts[kind].Requests++
	plan := p.plan
	p.mu.Unlock()
	var f Fault
	if plan != nil {
		f = plan(r)
	}
	if f.Before != nil {
		f.Before()
	}
	if f.Delay > 0 && !p.wait(r.Context(), f.Delay) {
		return
	}
	if f.Status != 0 {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
		if f.Code != "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(f.Status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
				`<Error><Code>%s</Code><Message>injected by the soak</Message><RequestId>soak</RequestId></Error>`, f.Code)
			return
		}
		http.Error(w, "injected by the soak", f.Status)
		return
	}
	counted := &countingReader{r: r.Body}
	body := io.Reader(counted)
	switch {
	case f.CutRequestAt > 0:
		body = io.MultiReader(io.LimitReader(counted, f.CutRequestAt), cutReader{})
	case f.StallRequestAt > 0:
		body = io.MultiReader(io.LimitReader(counted, f.StallRequestAt), stallReader{p, r.Context()})
	}
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host
	req.ContentLength = r.ContentLength
	resp, err := p.client.Do(req)
	p.add(kind, counted.n, 0)
	if err != nil {
		if f.CutRequestAt > 0 || f.StallRequestAt > 0 {
			panic(http.ErrAbortHandler) // the client sees its upload cut
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if f.CutResponse {
		_, _ = io.Copy(io.Discard, resp.Body)
		panic(http.ErrAbortHandler)
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	var n int64
	defer func() { p.add(kind, 0, n) }()
	switch {
	case f.CutResponseAt > 0:
		n, _ = io.CopyN(w, resp.Body, f.CutResponseAt)
		panic(http.ErrAbortHandler) // net/http closes the connection mid-body
	case f.StallResponseAt > 0:
		n, _ = io.CopyN(w, resp.Body, f.StallResponseAt)
		w.(http.Flusher).Flush()
		p.wait(r.Context(), MaxStall)
		panic(http.ErrAbortHandler)
	}
	if f.BytesPerSecond > 0 {
		n, _ = p.paced(r.Context(), w, resp.Body, f.BytesPerSecond)
		return
	}
	n, _ = io.Copy(w, resp.Body)
}

// paced copies at most rate bytes a second, in small steps.
func (p *Faults) paced(ctx context.Context, w io.Writer, body io.Reader, rate int64) (int64, error) {
	const step = 32 << 10
	start := time.Now()
	var n int64
	buf := make([]byte, step)
	for {
		m, err := body.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
			if ahead := time.Duration(n*int64(time.Second)/rate) - time.Since(start); ahead > 0 && !p.wait(ctx, ahead) {
				return n, ctx.Err()
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// wait sleeps d unless the request ends or the proxy closes first; it
// reports whether the whole time passed.
func (p *Faults) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-p.closing:
	}
	return false
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

type cutReader struct{}

func (cutReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

type stallReader struct {
	p   *Faults
	ctx context.Context
}

func (s stallReader) Read([]byte) (int, error) {
	s.p.wait(s.ctx, MaxStall)
	return 0, io.ErrUnexpectedEOF
}

// S3Kind names an S3 request by its operation, for Faults totals.
func S3Kind(r *http.Request) string {
	q := r.URL.Query()
	objectPath := strings.Count(strings.Trim(r.URL.Path, "/"), "/") > 0
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return "UploadPart"
	case r.Method == http.MethodPut && objectPath:
		return "PutObject"
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload"
	case r.Method == http.MethodGet && q.Has("uploadId"):
		return "ListParts"
	case r.Method == http.MethodHead && objectPath:
		return "HeadObject"
	case r.Method == http.MethodGet && objectPath:
		return "GetObject"
	}
	return r.Method + " bucket"
}

// SourceKind names a request to the GCS source: HEAD, GET (whole) or
// GET range.
func SourceKind(r *http.Request) string {
	if r.Method == http.MethodGet && r.Header.Get("Range") != "" {
		return "GET range"
	}
	return r.Method
}

// S3Operation is S3Kind with the bucket-level GETs told apart
// (ListMultipartUploads, ListObjects), for counting requests by operation.
// S3Kind's own names stay as they are: the soak's seeded fault draws are
// keyed by them.
func S3Operation(r *http.Request) string {
	kind := S3Kind(r)
	if kind == "GET bucket" {
		kind = "ListObjects"
		if r.URL.Query().Has("uploads") {
			kind = "ListMultipartUploads"
		}
	}
	return kind
}

// Counts counts requests by kind; it is safe for concurrent use, and its
// zero value is ready.
type Counts struct {
	mu sync.Mutex
	n  map[string]int
}

// Add counts one request of kind.
func (c *Counts) Add(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[kind]++
}

// Take returns the counts so far and starts again from zero.
func (c *Counts) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	if out == nil {
		out = map[string]int{}
	}
	c.n = nil
	return out
}
