package standin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// FaultProxy relays HTTP requests to an upstream (typically the GCS
// stand-in) and injects faults chosen per request by the plan installed
// with OnRequest: error statuses, connections cut mid-body, delays, corrupt
// bytes, forged checksum headers.
type FaultProxy struct {
	URL string // point the code under test here

	upstream  string
	client    *http.Client
	server    *httptest.Server
	closing   chan struct{} // ends request stalls: a server does not notice a client leaving mid-body
	closeOnce sync.Once

	mu   sync.Mutex
	plan func(n int, r *http.Request) Fault
	gets int
}

// Fault is what the proxy does to one request; the zero Fault relays it
// untouched.
type Fault struct {
	Status   int           // answer with this status instead of relaying
	Body     string        // with Status: the XML error body to answer (an S3 error a client can parse)
	DropAt   int64         // relay this many body bytes, then cut the connection
	StallAt  int64         // relay this many body bytes, then send nothing until the client gives up
	Delay    time.Duration // wait before relaying
	FlipByte bool          // corrupt one byte in the middle of the body
	Hash     string        // replace the X-Goog-Hash response header
	Before   func()        // run before relaying (e.g. overwrite the object)

	// StallRequestAt relays this many bytes of the request body, then stops
	// reading it (a server that stopped taking an upload) until the client
	// gives up.
	StallRequestAt int64
}

// StartFaultProxy starts a proxy to upstream (scheme://host:port) on a
// free 127.0.0.1 port. Close stops it.
func StartFaultProxy(upstream string) *FaultProxy {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true // relay stored bytes as they are
	t.Proxy = nil
	p := &FaultProxy{upstream: upstream, client: &http.Client{Transport: t}, closing: make(chan struct{})}
	p.server = httptest.NewServer(p)
	p.URL = p.server.URL
	return p
}

// NewFaultProxy starts a proxy for a test and stops it at cleanup.
func NewFaultProxy(tb testing.TB, upstream string) *FaultProxy {
	p := StartFaultProxy(upstream)
	tb.Cleanup(p.Close)
	return p
}

// Close stops the proxy. It may be called more than once.
func (p *FaultProxy) Close() {
	p.closeOnce.Do(func() { close(p.closing) })
	p.server.Close()
}

// OnRequest installs the fault plan (nil relays everything). n numbers the
// GET requests from 1 in arrival order; other methods get n == 0.
func (p *FaultProxy) OnRequest(plan func(n int, r *http.Request) Fault) {
	p.mu.Lock()
	p.plan = plan
	p.mu.Unlock()
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	n := 0
	if r.Method == http.MethodGet {
		p.gets++
		n = p.gets
	}
	plan := p.plan
	p.mu.Unlock()
	var f Fault
	if plan != nil {
		f = plan(n, r)
	}
	if f.Before != nil {
		f.Before()
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done(): // the client gave up: stop waiting
			return
		}
	}
	if f.Status != 0 && f.Body != "" {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	if f.Status != 0 {
		http.Error(w, "injected by FaultProxy", f.Status)
		return
	}
	reqBody := io.Reader(r.Body)
	if f.StallRequestAt > 0 {
		reqBody = io.MultiReader(io.LimitReader(r.Body, f.StallRequestAt), stall{r.Context(), p.closing})
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), reqBody)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host // what a SigV4 signature covers
	req.ContentLength = r.ContentLength
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if f.Hash != "" {
		w.Header().Set("X-Goog-Hash", f.Hash)
	}
	w.WriteHeader(resp.StatusCode)
	body := io.Reader(resp.Body)
	if f.StallAt > 0 {
		_, _ = io.CopyN(w, body, f.StallAt)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	if f.DropAt > 0 {
		_, _ = io.CopyN(w, body, f.DropAt)
		panic(http.ErrAbortHandler) // net/http closes the connection mid-body
	}
	if f.FlipByte {
		b, _ := io.ReadAll(body)
		if len(b) > 0 {
			b[len(b)/2] ^= 0xff
		}
		body = bytes.NewReader(b)
	}
	_, _ = io.Copy(w, body)
}

// stall blocks every read until the request ends or the proxy closes.
type stall struct {
	ctx     context.Context
	closing <-chan struct{}
}

func (s stall) Read([]byte) (int, error) {
	select {
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	case <-s.closing:
		return 0, errors.New("fault proxy closed")
	}
}
