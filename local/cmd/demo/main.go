// Command demo runs the whole system on this machine (`make demo`): the S3,
// GCS and SQS stand-ins, the CloudFront-like front with the real edge
// handler, and the real transfer function fed from the queue. It seeds the
// GCS stand-in with a few sample objects, prints the URL to curl and then
// one line per event, until Ctrl-C stops everything.
//
// It is a demo harness (see local/harness); nothing here is deployed.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/local/consumer"
	"github.com/backtoorigin/backtoorigin/local/front"
	"github.com/backtoorigin/backtoorigin/local/harness"
	"github.com/backtoorigin/backtoorigin/local/sqstap"
)

func main() {
	started := time.Now()
	addr := flag.String("addr", "127.0.0.1:8080", "where the front listens (a free port is used if this one is taken)")
	verbose := flag.Bool("v", false, "also print the raw logs of the edge handler and the transfer function")
	flag.Parse()
	if err := run(started, *addr, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(started time.Time, addr string, verbose bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	p := &printer{tap: nil}
	opts := harness.Options{
		FrontAddr:         freeOr(addr),
		FunctionTimeout:   60 * time.Second,
		VisibilityTimeout: 75 * time.Second,
		Instances:         2,
		OnExchange:        p.exchange,
		OnDelivery:        p.delivery,
		OnTransferLog:     p.transferLog,
	}
	if verbose {
		opts.Logs = prefixed{"  | ", os.Stdout, &p.mu}
	}
	fmt.Println("starting the S3, GCS and SQS stand-ins, the edge handler and the transfer function...")
	h, err := harness.Start(ctx, opts)
	if err != nil {
		return err
	}
	p.tap = h.Tap
	defer func() {
		fmt.Println("stopping...")
		if err := h.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stop:", err)
		}
		if left, err := harness.ChildPIDs(); err == nil && len(left) > 0 {
			fmt.Fprintf(os.Stderr, "demo: %d processes still running: %v\n", len(left), left)
		} else {
			fmt.Println("stopped: every stand-in and function process has exited")
		}
	}()

	samples, err := seed(h)
	if err != nil {
		return err
	}
	fmt.Printf("\nready in %.1f s. The GCS bucket %q holds:\n", time.Since(started).Seconds(), harness.GCSBucket)
	for _, s := range samples {
		fmt.Printf("  %-28s %9s  %s\n", s.key, human(int64(len(s.content))), s.note)
	}
	fmt.Printf(`
Try (the front plays CloudFront; X-Local-Origin says which origin answered):
  curl -s -o /dev/null -D - %[1]s/img/a.png      # first time: from GCS, queued for copying
  curl -s -o /dev/null -D - %[1]s/img/a.png      # again: from S3
  curl -s -o /dev/null -r 0-1023 %[1]s/video/clip.mp4
  curl -s --compressed %[1]s/css/site.css | head -3
  curl -s -o /dev/null -w '%%{http_code}\n' %[1]s/missing.png
Press Ctrl-C to stop everything.

`, h.FrontURL)

	go watchDeadLetters(ctx, h, p)
	<-ctx.Done()
	p.stop()
	fmt.Println()
	return nil
}

type sample struct {
	key, note string
	content   []byte
	obj       standin.GCSObject
}

func seed(h *harness.Harness) ([]sample, error) {
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	var css bytes.Buffer
	zw := gzip.NewWriter(&css)
	_, _ = io.WriteString(zw, strings.Repeat("body { font-family: sans-serif; color: #222 }\n", 400))
	_ = zw.Close()
	png := append([]byte("\x89PNG\r\n\x1a\n"), random(1_200_000)...)
	samples := []sample{
		{key: "img/a.png", note: "image/png, Cache-Control: max-age=86400", content: png,
			obj: standin.GCSObject{ContentType: "image/png", CacheControl: "public, max-age=86400"}},
		{key: "img/logo.svg", note: "image/svg+xml", content: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`),
			obj: standin.GCSObject{ContentType: "image/svg+xml"}},
		{key: "css/site.css", note: "text/css, stored gzip-encoded", content: css.Bytes(),
			obj: standin.GCSObject{ContentType: "text/css", ContentEncoding: "gzip", CacheControl: "public, max-age=600"}},
		{key: "data/report.json", note: "application/json, custom metadata", content: []byte(`{"quarter":"Q3","rows":[1,2,3]}`),
			obj: standin.GCSObject{ContentType: "application/json", Metadata: map[string]string{"owner": "finance"}}},
		{key: "docs/read me+ü.txt", note: "a key with a space, + and ü (curl it as /docs/read%20me+%C3%BC.txt)", content: []byte("hello from an awkward key\n"),
			obj: standin.GCSObject{ContentType: "text/plain; charset=utf-8"}},
		{key: "video/clip.mp4", note: "video/mp4, copied in 16 MiB parts", content: random(40 << 20),
			obj: standin.GCSObject{ContentType: "video/mp4"}},
	}
	for i := range samples {
		o := samples[i].obj
		o.Bucket, o.Key, o.Content = harness.GCSBucket, samples[i].key, samples[i].content
		if _, err := h.GCS.PutObject(o); err != nil {
			return nil, err
		}
	}
	return samples, nil
}

// printer turns harness events into one human line each.
type printer struct {
	mu       sync.Mutex
	tap      *sqstap.Tap
	stopping bool // after Ctrl-C: the shutdown's own errors are not events
}

func (p *printer) stop() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
}

func (p *printer) println(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return
	}
	fmt.Printf(time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func (p *printer) exchange(ex front.Exchange) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", ex.Method, ex.URI)
	if ex.Range != "" {
		fmt.Fprintf(&b, " [%s]", ex.Range)
	}
	switch {
	case ex.Status == 405 || ex.Status == 400:
		fmt.Fprintf(&b, " -> %d", ex.Status)
	case ex.Origin == "s3":
		fmt.Fprintf(&b, " -> served from S3%s", sizeNote(ex))
	default:
		if ex.S3Err != nil {
			b.WriteString(" -> S3 unreachable")
		} else {
			fmt.Fprintf(&b, " -> S3 %d", ex.S3Status)
		}
		switch {
		case ex.OriginErr != nil:
			fmt.Fprintf(&b, " -> GCS unreachable -> 502")
		case ex.Status >= 400 && ex.EdgeErr == nil:
			fmt.Fprintf(&b, " -> GCS %d -> %d, nothing queued", ex.Status, ex.Status)
		default:
			fmt.Fprintf(&b, " -> served from GCS%s", sizeNote(ex))
			b.WriteString(p.queued(ex))
		}
	}
	if ex.EdgeErr != nil {
		fmt.Fprintf(&b, " -> edge handler failed (%v) -> 502", ex.EdgeErr)
	}
	p.println("%s", b.String())
}

// queued says whether the edge handler sent a message during this request.
func (p *printer) queued(ex front.Exchange) string {
	if p.tap == nil {
		return ""
	}
	key := keyOf(ex.URI)
	since := time.Now().Add(-ex.Duration)
	for _, s := range p.tap.SendsFor(key) {
		if !s.At.Before(since) {
			if s.Status != 200 {
				return fmt.Sprintf(" -> queueing failed (SQS %d)", s.Status)
			}
			return " -> queued"
		}
	}
	if len(p.tap.SendsFor(key)) > 0 {
		return " -> already queued by this edge container"
	}
	return " -> not queued"
}

func (p *printer) delivery(d consumer.Delivery) {
	if d.Err == nil && len(d.Failed) == 0 {
		return // successes are reported by the transfer function's own log line
	}
	if len(d.Records) == 0 {
		p.println("consumer: %v", d.Err)
		return
	}
	for _, r := range d.Records {
		if d.Err == nil && !d.Failed[r.MessageId] {
			continue
		}
		why := "reported as a batch item failure"
		if d.Err != nil {
			why = d.Err.Error()
		}
		p.println("transfer of %s failed (attempt %s): %s -> SQS redelivers it after the visibility timeout",
			messageKey(r.Body), r.Attributes["ApproximateReceiveCount"], why)
	}
}

// transferLog prints the transfer function's one-line-per-object summary.
func (p *printer) transferLog(entry map[string]any) {
	key, _ := entry["key"].(string)
	outcome, _ := entry["outcome"].(string)
	if key == "" || outcome == "" {
		return
	}
	bytesCopied, _ := entry["bytes"].(float64)
	seconds, _ := entry["seconds"].(float64)
	switch outcome {
	case "copied":
		p.println("copied %s %s in %s", key, human(int64(bytesCopied)), ms(seconds))
	case "skipped":
		p.println("skipped %s: already in S3", key)
	case "raced":
		p.println("skipped %s: a concurrent copy wrote it first", key)
	case "source-missing":
		p.println("nothing to copy for %s: gone from GCS", key)
	case "suspended":
		p.println("paused %s after %s: out of time, continues in the next invocation", key, human(int64(bytesCopied)))
	default:
		msg, _ := entry["error"].(string)
		p.println("%s %s: %s", outcome, key, msg)
	}
}

func watchDeadLetters(ctx context.Context, h *harness.Harness, p *printer) {
	last := 0
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := h.QueueDepth(ctx, h.DeadLetterQueueURL)
		if err != nil || n == last {
			continue
		}
		last = n
		p.println("dead-letter queue now holds %d message(s)", n)
	}
}

func sizeNote(ex front.Exchange) string {
	if ex.Size < 0 {
		return ""
	}
	return " (" + human(ex.Size) + ")"
}

func keyOf(uri string) string {
	k, err := url.PathUnescape(strings.TrimPrefix(uri, "/"))
	if err != nil {
		return ""
	}
	return k
}

func messageKey(body string) string {
	var m struct {
		Key string `json:"key"`
	}
	if json.Unmarshal([]byte(body), &m) != nil || m.Key == "" {
		return "(unreadable message)"
	}
	return m.Key
}

func human(n int64) string {
	switch {
	case n >= 1_000_000_000:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

func ms(seconds float64) string {
	if seconds >= 10 {
		return fmt.Sprintf("%.1f s", seconds)
	}
	return fmt.Sprintf("%.0f ms", seconds*1000)
}

// freeOr returns addr if it can be listened on, else a free port.
func freeOr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Printf("%s is taken; using a free port\n", addr)
		return "127.0.0.1:0"
	}
	ln.Close()
	return addr
}

// prefixed writes raw log lines with a prefix, sharing the printer's lock.
type prefixed struct {
	prefix string
	out    io.Writer
	mu     *sync.Mutex
}

func (w prefixed) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Fprint(w.out, w.prefix+line)
		}
	}
	return len(b), nil
}
