// Package e2e is the system test behind `make e2e`: the whole flow on one
// machine (see local/harness), driven through the front like a viewer, with
// every assertion made on what a user would see: the bytes served, which
// origin served them, what landed in S3, what is left in the queues, and
// which processes are still running.
package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/local/cfn"
	"github.com/backtoorigin/backtoorigin/local/consumer"
	"github.com/backtoorigin/backtoorigin/local/front"
	"github.com/backtoorigin/backtoorigin/local/harness"
)

// Every wait is bounded by one of these.
const (
	landWait  = 60 * time.Second // a queued object is in S3, even after one redelivery
	suiteWait = 4 * time.Minute
)

// deliveries remembers, per key, what the consumer saw.
type deliveries struct {
	mu       sync.Mutex
	received map[string]int
	failed   map[string]int
	bodies   map[string][]string
}

func (d *deliveries) observe(del consumer.Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range del.Records {
		var m struct {
			Key string `json:"key"`
		}
		_ = json.Unmarshal([]byte(r.Body), &m)
		d.received[m.Key]++
		d.bodies[m.Key] = append(d.bodies[m.Key], r.Body)
		if del.Err != nil || del.Failed[r.MessageId] {
			d.failed[m.Key]++
		}
	}
}

func (d *deliveries) bodiesFor(key string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.bodies[key]...)
}

func (d *deliveries) counts(key string) (received, failed int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.received[key], d.failed[key]
}

type object struct {
	key             string
	content         []byte
	contentType     string
	cacheControl    string
	contentEncoding string
	metadata        map[string]string
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t *testing.T, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// escape percent-encodes a key the way a browser sends it in a path.
func escape(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/" + strings.Join(parts, "/")
}

type suite struct {
	t    *testing.T
	ctx  context.Context
	h    *harness.Harness
	dels *deliveries
	http *http.Client
}

func (s *suite) put(o object) {
	s.t.Helper()
	if _, err := s.h.GCS.PutObject(standin.GCSObject{
		Bucket: harness.GCSBucket, Key: o.key, Content: o.content,
		ContentType: o.contentType, CacheControl: o.cacheControl,
		ContentEncoding: o.contentEncoding, Metadata: o.metadata,
	}); err != nil {
		s.t.Fatal(err)
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *suite) do(method, path string, header map[string]string) reply {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.ctx, method, s.h.FrontURL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return reply{resp.StatusCode, resp.Header, body}
}

// waitLanded waits for key to be in S3 and checks bytes and metadata.
func (s *suite) waitLanded(o object) {
	s.t.Helper()
	deadline := time.Now().Add(landWait)
	for {
		out, err := s.h.S3Client.GetObject(s.ctx, &s3.GetObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(o.key)})
		if err == nil {
			got, rerr := io.ReadAll(out.Body)
			out.Body.Close()
			if rerr != nil {
				s.t.Fatalf("read s3://%s: %v", o.key, rerr)
			}
			if !bytes.Equal(got, o.content) {
				s.t.Errorf("s3://%s: %d bytes differ from the %d source bytes", o.key, len(got), len(o.content))
			}
			check := func(what, got, want string) {
				if got != want {
					s.t.Errorf("s3://%s %s = %q, want %q", o.key, what, got, want)
				}
			}
			check("Content-Type", aws.ToString(out.ContentType), o.contentType)
			check("Cache-Control", aws.ToString(out.CacheControl), o.cacheControl)
			check("Content-Encoding", aws.ToString(out.ContentEncoding), o.contentEncoding)
			for k, v := range o.metadata {
				check("metadata "+k, out.Metadata[k], v)
			}
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("s3://%s not there after %s: %v", o.key, landWait, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLandedFromOneMessage waits for o in S3 (waitLanded) and checks that
// the edge sent one message for it and the transfer function read that one.
func (s *suite) waitLandedFromOneMessage(o object) {
	s.t.Helper()
	s.waitLanded(o)
	sent := s.h.Tap.SendsFor(o.key)
	if len(sent) != 1 {
		s.t.Errorf("%s: the edge sent %d messages, want 1", o.key, len(sent))
		return
	}
	// The message the edge wrote is the message the transfer read.
	// The object is in S3 before the function returns, so its
	// delivery is recorded a moment after it lands.
	waitFor(s.t, landWait, o.key+"'s delivery to be recorded", func() bool { return len(s.dels.bodiesFor(o.key)) > 0 })
	if got := s.dels.bodiesFor(o.key); len(got) != 1 || got[0] != sent[0].Body {
		s.t.Errorf("%s: the transfer function received %q, the edge sent %q", o.key, got, sent[0].Body)
	}
}

// waitQueuesDrained waits until the transfer queue holds nothing (waiting
// or in flight), so counts taken afterwards are final.
func (s *suite) waitQueuesDrained() {
	s.t.Helper()
	deadline := time.Now().Add(landWait)
	for {
		n, err := s.h.QueueDepth(s.ctx, s.h.QueueURL)
		if err != nil {
			s.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("transfer queue still holds %d messages after %s", n, landWait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *suite) mustOrigin(r reply, want string, what string) {
	s.t.Helper()
	if got := r.header.Get(front.OriginHeader); got != want {
		s.t.Errorf("%s served by %q, want %q", what, got, want)
	}
}

// endToEnd is TestEndToEnd's fixture: one harness imitating the failover
// template the stack synthesizes, shared by the scenarios. They run in order:
// the cutover scenario reads a key the first one copied, and the checks at the
// end count every key they copied.
type endToEnd struct {
	suite
	// failover is the template as deployed; cutover the same with cutover=true.
	failover, cutover *cfn.Distribution
	closed            bool
}

// on is the suite for one scenario: the shared harness, failures reported to t.
func (e *endToEnd) on(t *testing.T) *suite {
	s := e.suite
	s.t = t
	return &s
}

func TestEndToEnd(t *testing.T) {
	e := startEndToEnd(t)
	for _, scenario := range []struct {
		name string
		run  func(*endToEnd, *testing.T)
	}{
		{"first GET, HEAD and ranged GET of missing objects are served from GCS, then copied with their metadata, then served from S3",
			(*endToEnd).missesServedFromGCSThenCopiedThenFromS3},
		{"a viewer that does not accept gzip gets a gzip-stored object decompressed from GCS, then as stored from S3",
			(*endToEnd).gzipForAViewerWithoutGzip},
		{"a key with spaces, unicode and + lands under the same key",
			(*endToEnd).oddKeyLandsUnderTheSameKey},
		{"a key with literal + is served from GCS, copied, then served from S3 under the same key",
			(*endToEnd).literalPlusKey},
		{"50 concurrent GETs and ranged GETs of one missing key make exactly one copy, never overwritten",
			(*endToEnd).concurrentMissesCopyOnce},
		{"GCS down when the copy is due: retried, lands once GCS is back, nothing dead-lettered",
			(*endToEnd).sourceOutageIsRetried},
		{"an object that exists nowhere is a 404 and nothing is queued",
			(*endToEnd).missingEverywhereIs404},
		{"only GET, HEAD and OPTIONS are allowed",
			(*endToEnd).onlyReadMethods},
		{"a cross-origin GET gets the same CORS headers from GCS and from S3, and a preflight succeeds before and after the copy",
			(*endToEnd).corsSameFromBothOrigins},
		{"after the cutover a key only GCS has is a 404 and GCS is not contacted; a rollback fails over again",
			(*endToEnd).cutoverAndRollback},
	} {
		t.Run(scenario.name, func(t *testing.T) { scenario.run(e, t) })
	}
	e.checkS3HoldsWhatViewersAskedFor(t)
	e.checkCloseEndsEveryProcess(t)
}

// startEndToEnd synthesizes both templates and starts the harness on the
// failover one, with two transfer instances.
func startEndToEnd(t *testing.T) *endToEnd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), suiteWait)
	t.Cleanup(cancel)
	dels := &deliveries{received: map[string]int{}, failed: map[string]int{}, bodies: map[string][]string{}}
	// The front imitates the template the stack synthesizes with this
	// context, and the same with cutover=true for the cutover cases.
	deployed := map[string]string{"corsAllowOrigins": corsOrigin}
	failover := synthTemplate(t, deployed)
	deployed["cutover"] = "true"
	cutover := synthTemplate(t, deployed)
	// Synthesis runs in a node child process (the jsii kernel); it is done,
	// and the process check at the end counts every child.
	jsii.Close()
	if !failover.FailoverToGCS || cutover.FailoverToGCS || failover.CORS == nil {
		t.Fatalf("templates: failover %+v, cutover %+v", failover, cutover)
	}
	h, err := harness.Start(ctx, harness.Options{
		Distribution: failover,
		// As short as the engine's 20 s stop margin allows, so a failed
		// attempt is retried within the test's time; visibility stays above
		// the timeout, which is what the stack's 6x rule ensures.
		FunctionTimeout:   30 * time.Second,
		VisibilityTimeout: 35 * time.Second,
		Instances:         2,
		// 5 MiB parts (the S3 minimum) make the 6 MiB object a multipart copy.
		TransferEnv: []string{"PART_SIZE_MIB=5"},
		OnDelivery:  dels.observe,
	})
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	// DisableCompression: a viewer's request carries Accept-Encoding only where a case sets it.
	e := &endToEnd{
		suite:    suite{t: t, ctx: ctx, h: h, dels: dels, http: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 100, DisableCompression: true}}},
		failover: failover,
		cutover:  cutover,
	}
	t.Cleanup(func() {
		if !e.closed {
			h.Close()
		}
	})
	return e
}

// missesServedFromGCSThenCopiedThenFromS3 checks that the first GET, HEAD, ranged GET and gzip
// GET of four objects fail over to GCS; each is queued once, the message the transfer reads is
// the one the edge sent, the copies keep their metadata, and the next requests are served from
// S3 without queueing again.
func (e *endToEnd) missesServedFromGCSThenCopiedThenFromS3(t *testing.T) {
	s := e.on(t)
	image := object{key: "img/a.png", content: randomBytes(t, 1200*1000), contentType: "image/png",
		cacheControl: "public, max-age=3600", metadata: map[string]string{"camera": "e2e", "owner": "web team"}}
	headOnly := object{key: "data/report.json", content: []byte(`{"rows":[1,2,3]}`), contentType: "application/json",
		cacheControl: "no-cache", metadata: map[string]string{"source": "head"}}
	ranged := object{key: "video/intro.bin", content: randomBytes(t, 300*1000), contentType: "application/octet-stream",
		cacheControl: "public, max-age=60"}
	css := object{key: "css/site.css", content: gzipped(t, strings.Repeat("body { color: #333 }\n", 500)),
		contentType: "text/css", cacheControl: "public, max-age=600", contentEncoding: "gzip"}
	for _, o := range []object{image, headOnly, ranged, css} {
		s.put(o)
	}

	r := s.do("GET", escape(image.key), nil)
	if r.status != 200 || !bytes.Equal(r.body, image.content) {
		t.Fatalf("first GET: %d, %d bytes; want 200 with the %d source bytes", r.status, len(r.body), len(image.content))
	}
	s.mustOrigin(r, "gcs", "first GET")
	if r.header.Get("Content-Type") != "image/png" {
		t.Errorf("first GET Content-Type %q", r.header.Get("Content-Type"))
	}

	r = s.do("HEAD", escape(headOnly.key), nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(len(headOnly.content)) {
		t.Errorf("HEAD: %d, body %d bytes, Content-Length %q; want 200, no body, %d", r.status, len(r.body), r.header.Get("Content-Length"), len(headOnly.content))
	}
	s.mustOrigin(r, "gcs", "HEAD")

	r = s.do("GET", escape(ranged.key), map[string]string{"Range": "bytes=1000-1999"})
	if r.status != 206 || !bytes.Equal(r.body, ranged.content[1000:2000]) {
		t.Errorf("ranged GET: %d, %d bytes; want 206 with bytes 1000-1999", r.status, len(r.body))
	}
	if cr := r.header.Get("Content-Range"); cr != fmt.Sprintf("bytes 1000-1999/%d", len(ranged.content)) {
		t.Errorf("ranged GET Content-Range %q", cr)
	}
	s.mustOrigin(r, "gcs", "ranged GET")

	// A viewer accepting gzip gets the stored gzip bytes.
	r = s.do("GET", escape(css.key), map[string]string{"Accept-Encoding": "gzip"})
	if r.status != 200 || !bytes.Equal(r.body, css.content) || r.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip GET: %d, %d bytes, Content-Encoding %q; want 200 with the stored gzip bytes", r.status, len(r.body), r.header.Get("Content-Encoding"))
	}

	for _, o := range []object{image, headOnly, ranged, css} {
		s.waitLandedFromOneMessage(o)
	}

	r = s.do("GET", escape(image.key), nil)
	if r.status != 200 || !bytes.Equal(r.body, image.content) {
		t.Errorf("second GET: %d, %d bytes", r.status, len(r.body))
	}
	s.mustOrigin(r, "s3", "second GET")
	if r.header.Get("Cache-Control") != image.cacheControl {
		t.Errorf("second GET Cache-Control %q", r.header.Get("Cache-Control"))
	}
	r = s.do("GET", escape(ranged.key), map[string]string{"Range": "bytes=1000-1999"})
	if r.status != 206 || !bytes.Equal(r.body, ranged.content[1000:2000]) {
		t.Errorf("ranged GET from S3: %d, %d bytes", r.status, len(r.body))
	}
	s.mustOrigin(r, "s3", "ranged GET after the copy")
	r = s.do("GET", escape(css.key), map[string]string{"Accept-Encoding": "gzip"})
	if !bytes.Equal(r.body, css.content) || r.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip GET from S3: %d bytes, Content-Encoding %q", len(r.body), r.header.Get("Content-Encoding"))
	}
	s.mustOrigin(r, "s3", "gzip GET after the copy")
	// S3 answers: the edge must not queue again.
	if n := len(s.h.Tap.SendsFor(image.key)); n != 1 {
		t.Errorf("%s: %d messages after S3 served it, want still 1", image.key, n)
	}
}

// gzipForAViewerWithoutGzip checks that GCS decompresses a gzip-stored object for a viewer
// that does not accept gzip; the copy keeps the stored bytes, which S3 then serves as they
// are.
func (e *endToEnd) gzipForAViewerWithoutGzip(t *testing.T) {
	s := e.on(t)
	const text = "p { margin: 0 }\n"
	o := object{key: "css/plain-viewer.css", content: gzipped(t, strings.Repeat(text, 300)),
		contentType: "text/css", cacheControl: "public, max-age=600", contentEncoding: "gzip"}
	s.put(o)

	// GCS transcodes for a request without Accept-Encoding: gzip
	// (https://cloud.google.com/storage/docs/transcoding); fake-gcs-server
	// v1.56.1 does too: plain bytes, no Content-Encoding.
	r := s.do("GET", escape(o.key), nil)
	s.mustOrigin(r, "gcs", "GET before the copy")
	if r.status != 200 || string(r.body) != strings.Repeat(text, 300) || r.header.Get("Content-Encoding") != "" {
		t.Errorf("GET before the copy: %d, %d bytes, Content-Encoding %q; want 200, the %d decompressed bytes, no Content-Encoding",
			r.status, len(r.body), r.header.Get("Content-Encoding"), len(text)*300)
	}
	// The copy keeps the stored gzip bytes and their Content-Encoding.
	s.waitLanded(o)

	// S3 serves what is stored whatever the viewer accepts, and CloudFront
	// passes an origin's gzip on as it is
	// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/ServingCompressedFiles.html).
	r = s.do("GET", escape(o.key), nil)
	s.mustOrigin(r, "s3", "GET after the copy")
	if r.status != 200 || !bytes.Equal(r.body, o.content) || r.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("GET after the copy: %d, %d bytes, Content-Encoding %q; want 200, the %d stored gzip bytes, Content-Encoding gzip",
			r.status, len(r.body), r.header.Get("Content-Encoding"), len(o.content))
	}
}

// oddKeyLandsUnderTheSameKey checks that a key with spaces, unicode, + and % is copied under
// that key and found again with "+" spelled %2B.
func (e *endToEnd) oddKeyLandsUnderTheSameKey(t *testing.T) {
	s := e.on(t)
	o := object{key: "docs/a b+c ü 日本 100%.txt", content: []byte("odd key\n"), contentType: "text/plain; charset=utf-8", cacheControl: "max-age=5"}
	s.put(o)
	r := s.do("GET", escape(o.key), nil)
	if r.status != 200 || !bytes.Equal(r.body, o.content) {
		t.Fatalf("GET %s: %d %q", escape(o.key), r.status, r.body)
	}
	s.mustOrigin(r, "gcs", "first GET")
	s.waitLanded(o)
	// "+" may also arrive as %2B: the same object, now from S3.
	alt := strings.ReplaceAll(escape(o.key), "+", "%2B")
	r = s.do("GET", alt, nil)
	if r.status != 200 || !bytes.Equal(r.body, o.content) {
		t.Errorf("GET %s: %d %q", alt, r.status, r.body)
	}
	s.mustOrigin(r, "s3", "GET with %2B")
}

// literalPlusKey checks that a literal + in the path (which S3 alone would read as a space) is
// one key at GCS, in the queue and in S3, however the viewer spells it.
func (e *endToEnd) literalPlusKey(t *testing.T) {
	s := e.on(t)
	// S3 (here: the proxy in front of versitygw) reads "/c++/a+b.txt"
	// as "c  /a b.txt"; the viewer-request function sends "+" as %2B.
	o := object{key: "c++/a+b.txt", content: []byte("plus key\n"), contentType: "text/plain", cacheControl: "max-age=5"}
	s.put(o)
	const path = "/c++/a+b.txt" // as a browser sends it: "+" is legal in a path
	r := s.do("GET", path, nil)
	if r.status != 200 || !bytes.Equal(r.body, o.content) {
		t.Fatalf("first GET %s: %d %q", path, r.status, r.body)
	}
	s.mustOrigin(r, "gcs", "first GET")
	s.waitLanded(o)
	if sent := s.h.Tap.SendsFor(o.key); len(sent) != 1 {
		t.Errorf("the edge sent %d messages for %s, want 1", len(sent), o.key)
	}
	for _, p := range []string{path, "/c%2B%2B/a%2Bb.txt"} {
		r = s.do("GET", p, nil)
		if r.status != 200 || !bytes.Equal(r.body, o.content) {
			t.Errorf("GET %s after the copy: %d %q", p, r.status, r.body)
		}
		s.mustOrigin(r, "s3", "GET "+p+" after the copy")
	}
	if n := len(s.h.Tap.SendsFor(o.key)); n != 1 {
		t.Errorf("%s queued %d times, want still 1: S3 served it", o.key, n)
	}
}

// concurrentMissesCopyOnce checks that 70 concurrent requests of one missing key make one
// copy; a second message for the key, as after FIFO's deduplication window, leaves the object
// alone.
func (e *endToEnd) concurrentMissesCopyOnce(t *testing.T) {
	s := e.on(t)
	o := object{key: "video/clip.mp4", content: randomBytes(t, 6<<20), contentType: "video/mp4", cacheControl: "public, max-age=86400"}
	s.put(o)
	const full, ranges = 50, 20
	results := getAtOnce(s, o, full, ranges)
	for i, r := range results {
		want := 200
		if i >= full {
			want = 206
		}
		if r.status != want || !r.ok {
			t.Errorf("request %d: status %d, bytes right %v; want %d", i, r.status, r.ok, want)
		}
	}
	s.waitLanded(o)
	s.waitQueuesDrained()
	if n := s.h.Writes.Successful(o.key); n != 1 {
		t.Errorf("%s written %d times (%+v), want exactly 1", o.key, n, s.h.Writes.Writes(o.key))
	}
	t.Logf("%d viewer requests -> %d message(s) from the edge -> object writes %+v",
		len(results), len(s.h.Tap.SendsFor(o.key)), s.h.Writes.Writes(o.key))
	s.duplicateMessageLeavesObject(o)
}

// viewerResult is one of getAtOnce's requests: its status and whether the
// bytes were the ones asked for.
type viewerResult struct {
	status int
	ok     bool
}

// getAtOnce sends full GETs and then ranges ranged GETs of o, all released
// at the same moment.
func getAtOnce(s *suite, o object, full, ranges int) []viewerResult {
	results := make([]viewerResult, full+ranges)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			hdr := map[string]string{}
			lo := (i * 250_000) % (len(o.content) - 100_000)
			want := o.content
			if i >= full {
				hdr["Range"] = fmt.Sprintf("bytes=%d-%d", lo, lo+99_999)
				want = o.content[lo : lo+100_000]
			}
			req, _ := http.NewRequestWithContext(s.ctx, "GET", s.h.FrontURL+escape(o.key), nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := s.http.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			results[i] = viewerResult{resp.StatusCode, err == nil && bytes.Equal(body, want)}
		}()
	}
	close(start)
	wg.Wait()
	return results
}

// duplicateMessageLeavesObject queues o again, as a message the deduplication
// no longer catches would, and checks that the copy leaves the object in S3
// as it was.
func (s *suite) duplicateMessageLeavesObject(o object) {
	s.t.Helper()
	first, err := s.h.S3Client.HeadObject(s.ctx, &s3.HeadObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(o.key)})
	if err != nil {
		s.t.Fatal(err)
	}

	// The key queued again once FIFO's 5-minute deduplication window
	// has passed (a viewer in another region, say), simulated with
	// another deduplication id: the copy must find the object and
	// leave it alone.
	body, _ := json.Marshal(map[string]any{"v": 1, "key": o.key, "size": len(o.content)})
	if _, err := s.h.SQSClient.SendMessage(s.ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(s.h.QueueURL), MessageBody: aws.String(string(body)),
		MessageGroupId:         aws.String(s.h.Tap.SendsFor(o.key)[0].GroupID),
		MessageDeduplicationId: aws.String("second-container"),
	}); err != nil {
		s.t.Fatal(err)
	}
	waitFor(s.t, landWait, "the duplicate message to be consumed", func() bool {
		received, _ := s.dels.counts(o.key)
		n, _ := s.h.QueueDepth(s.ctx, s.h.QueueURL)
		return received >= 2 && n == 0
	})
	if n := s.h.Writes.Successful(o.key); n != 1 {
		s.t.Errorf("after a duplicate message %s was written %d times, want still 1", o.key, n)
	}
	again, err := s.h.S3Client.HeadObject(s.ctx, &s3.HeadObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(o.key)})
	if err != nil {
		s.t.Fatal(err)
	}
	if aws.ToString(again.ETag) != aws.ToString(first.ETag) || !aws.ToTime(again.LastModified).Equal(aws.ToTime(first.LastModified)) {
		s.t.Errorf("object changed: ETag %s -> %s, LastModified %v -> %v", aws.ToString(first.ETag), aws.ToString(again.ETag), first.LastModified, again.LastModified)
	}
}

// sourceOutageIsRetried checks that with the transfer function's road to GCS down, the copy
// fails and is redelivered, and lands once GCS is back, with nothing dead-lettered.
func (e *endToEnd) sourceOutageIsRetried(t *testing.T) {
	s := e.on(t)
	o := object{key: "outage/big.bin", content: randomBytes(t, 2<<20), contentType: "application/octet-stream", cacheControl: "private"}
	s.put(o)
	// Only the transfer function's road to GCS goes down: the viewer's
	// request is served before the copy starts.
	s.h.Source.SetDown(true)
	r := s.do("GET", escape(o.key), nil)
	if r.status != 200 || !bytes.Equal(r.body, o.content) {
		t.Fatalf("GET during the outage: %d, %d bytes", r.status, len(r.body))
	}
	waitFor(t, landWait, "a failed copy attempt while GCS is down", func() bool {
		_, failed := s.dels.counts(o.key)
		return failed >= 1
	})
	if s.h.Source.Refused() == 0 {
		t.Error("the transfer function never tried to reach GCS during the outage")
	}
	if _, err := s.h.S3Client.HeadObject(s.ctx, &s3.HeadObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(o.key)}); err == nil {
		t.Fatal("object in S3 although GCS was down")
	}
	s.h.Source.SetDown(false)
	s.waitLanded(o)
	waitFor(t, landWait, "the delivery that copied it to be recorded", func() bool {
		received, failed := s.dels.counts(o.key)
		return received > failed
	})
	received, failed := s.dels.counts(o.key)
	if received < 2 {
		t.Errorf("delivered %d times, want a redelivery after the failure", received)
	}
	t.Logf("outage: %d deliveries, %d failed, %d connections refused", received, failed, s.h.Source.Refused())
	s.waitQueuesDrained()
	if n, err := s.h.QueueDepth(s.ctx, s.h.DeadLetterQueueURL); err != nil || n != 0 {
		t.Errorf("dead-letter queue holds %d messages (%v), want 0", n, err)
	}
}

// missingEverywhereIs404 checks that a key neither origin has is a 404 and is never queued.
func (e *endToEnd) missingEverywhereIs404(t *testing.T) {
	s := e.on(t)
	const key = "missing/nowhere.png"
	r := s.do("GET", escape(key), nil)
	if r.status != 404 {
		t.Errorf("GET: %d, want 404", r.status)
	}
	s.mustOrigin(r, "gcs", "404")
	r = s.do("HEAD", escape(key), nil)
	if r.status != 404 {
		t.Errorf("HEAD: %d, want 404", r.status)
	}
	if n := len(s.h.Tap.SendsFor(key)); n != 0 {
		t.Errorf("the edge queued %d messages for a missing object", n)
	}
	time.Sleep(500 * time.Millisecond)
	if received, _ := s.dels.counts(key); received != 0 {
		t.Errorf("the transfer function received %d messages for a missing object", received)
	}
}

// onlyReadMethods checks that the distribution allows only GET, HEAD and OPTIONS.
func (e *endToEnd) onlyReadMethods(t *testing.T) {
	s := e.on(t)
	if r := s.do("POST", "/img/a.png", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", r.status)
	}
}

// corsSameFromBothOrigins checks that the CORS headers of a cross-origin GET are the same from
// GCS and S3, a preflight succeeds before and after the copy, and unlisted or same-origin
// requests get none.
func (e *endToEnd) corsSameFromBothOrigins(t *testing.T) {
	s := e.on(t)
	o := object{key: "fonts/inter.woff2", content: randomBytes(t, 40_000), contentType: "font/woff2", cacheControl: "public, max-age=600"}
	s.put(o)
	preflight := map[string]string{"Origin": corsOrigin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"}
	checkPreflight := func(when string) {
		r := s.do("OPTIONS", escape(o.key), preflight)
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != corsOrigin ||
			!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "GET") || r.header.Get("Access-Control-Allow-Headers") == "" ||
			r.header.Get("Access-Control-Max-Age") == "" {
			t.Errorf("preflight %s: %d %v", when, r.status, corsHeaders(r.header))
		}
		// S3 answers a preflight from its bucket CORS rules whether the key exists or not.
		s.mustOrigin(r, "s3", "preflight "+when)
	}
	checkPreflight("before the copy")

	fromGCS := s.do("GET", escape(o.key), map[string]string{"Origin": corsOrigin})
	s.mustOrigin(fromGCS, "gcs", "cross-origin GET before the copy")
	if fromGCS.status != 200 || !bytes.Equal(fromGCS.body, o.content) || fromGCS.header.Get("Access-Control-Allow-Origin") != corsOrigin ||
		!strings.Contains(fromGCS.header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("cross-origin GET from GCS: %d, %d bytes, %v", fromGCS.status, len(fromGCS.body), corsHeaders(fromGCS.header))
	}
	s.waitLanded(o)
	fromS3 := s.do("GET", escape(o.key), map[string]string{"Origin": corsOrigin})
	s.mustOrigin(fromS3, "s3", "cross-origin GET after the copy")
	if fmt.Sprint(corsHeaders(fromS3.header)) != fmt.Sprint(corsHeaders(fromGCS.header)) {
		t.Errorf("CORS headers differ by origin:\n  GCS %v\n  S3  %v", corsHeaders(fromGCS.header), corsHeaders(fromS3.header))
	}
	checkPreflight("after the copy")

	// An origin the policy does not list, and a same-origin request, get no CORS headers.
	if r := s.do("GET", escape(o.key), map[string]string{"Origin": "https://evil.example.net"}); len(corsHeaders(r.header)) != 0 {
		t.Errorf("GET from an unlisted origin: %v", corsHeaders(r.header))
	}
	if r := s.do("GET", escape(o.key), nil); len(corsHeaders(r.header)) != 0 {
		t.Errorf("GET without Origin: %v", corsHeaders(r.header))
	}
}

// cutoverAndRollback checks that after the cutover a key only GCS has is a 404 and is not
// queued, and a rollback fails over again once the cached 404 expires.
func (e *endToEnd) cutoverAndRollback(t *testing.T) {
	s := e.on(t)
	copied := object{key: "img/a.png"} // copied by the first case
	late := object{key: "late/only-in-gcs.txt", content: []byte("missed by the backfill\n"), contentType: "text/plain", cacheControl: "max-age=5"}
	s.put(late)
	if err := s.h.Redeploy(s.ctx, e.cutover); err != nil {
		t.Fatal(err)
	}
	r := s.do("GET", escape(copied.key), nil)
	if r.status != 200 {
		t.Errorf("GET of a copied key after the cutover: %d", r.status)
	}
	s.mustOrigin(r, "s3", "copied key after the cutover")
	r = s.do("GET", escape(late.key), nil)
	if r.status != 404 {
		t.Errorf("GET of a key only GCS has, after the cutover: %d, want 404", r.status)
	}
	s.mustOrigin(r, "s3", "missing key after the cutover")
	r = s.do("OPTIONS", escape(late.key), map[string]string{"Origin": corsOrigin, "Access-Control-Request-Method": "GET"})
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != corsOrigin {
		t.Errorf("preflight after the cutover: %d %v", r.status, corsHeaders(r.header))
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(s.h.Tap.SendsFor(late.key)); n != 0 {
		t.Errorf("the edge queued %s %d times after the cutover", late.key, n)
	}

	// Rollback: the same distribution fails over again. CloudFront keeps
	// the 404 for the error-caching TTL, so viewers see GCS's copy after it.
	if err := s.h.Redeploy(s.ctx, e.failover); err != nil {
		t.Fatal(err)
	}
	ttl := time.Duration(e.failover.ErrorCachingTTL[404]) * time.Second
	if ttl == 0 || ttl > 10*time.Second {
		t.Fatalf("error-caching TTL for 404 = %s, want up to 10 s", ttl)
	}
	r = s.do("GET", escape(late.key), nil)
	if r.status != 404 {
		t.Errorf("GET right after the rollback: %d, want the cached 404", r.status)
	}
	s.mustOrigin(r, "cache", "GET right after the rollback")
	waitFor(t, ttl+5*time.Second, "the cached 404 to expire", func() bool {
		r = s.do("GET", escape(late.key), nil)
		return r.status == 200
	})
	if !bytes.Equal(r.body, late.content) {
		t.Errorf("GET after the rollback: %q", r.body)
	}
	s.mustOrigin(r, "gcs", "GET after the rollback")
	s.waitLanded(late)
}

// checkS3HoldsWhatViewersAskedFor runs after every scenario: nothing is left
// in the queues, and every key that was copied is a key a viewer asked for,
// spelled the same: a decoding slip would show up here as an extra key.
func (e *endToEnd) checkS3HoldsWhatViewersAskedFor(t *testing.T) {
	s, h, ctx := e.on(t), e.h, e.ctx
	s.waitQueuesDrained()
	if n, err := h.QueueDepth(ctx, h.DeadLetterQueueURL); err != nil || n != 0 {
		t.Errorf("dead-letter queue holds %d messages at the end (%v), want 0", n, err)
	}
	listed, err := h.S3Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(harness.S3Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range listed.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	sort.Strings(keys)
	want := []string{"c++/a+b.txt", "css/plain-viewer.css", "css/site.css", "data/report.json", "docs/a b+c ü 日本 100%.txt",
		"fonts/inter.woff2", "img/a.png", "late/only-in-gcs.txt", "outage/big.bin", "video/clip.mp4", "video/intro.bin"}
	if strings.Join(keys, "\n") != strings.Join(want, "\n") {
		t.Errorf("keys in S3:\n  %q\nwant\n  %q", keys, want)
	}
}

// checkCloseEndsEveryProcess closes the harness and finds none of the
// processes it started still running.
func (e *endToEnd) checkCloseEndsEveryProcess(t *testing.T) {
	running, err := harness.ChildPIDs()
	if err != nil {
		t.Fatal(err)
	}
	// versitygw, local-aws-sqs, the edge handler's node, the viewer-request
	// function's node, two transfer function processes: the check below
	// means something only if they ran.
	if len(running) < 6 {
		t.Errorf("only %d child processes while running, want at least 6", len(running))
	}
	e.closed = true
	if err := e.h.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	left, err := harness.ChildPIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range left {
		t.Errorf("process %d (%s) still running after Close", pid, harness.ProcessName(pid))
	}
}

// corsOrigin is the page origin the deployed template allows.
const corsOrigin = "https://app.example.com"

// corsHeaders are a response's Access-Control-* headers, sorted by name.
func corsHeaders(h http.Header) []string {
	var out []string
	for name, values := range h {
		if strings.HasPrefix(strings.ToLower(name), "access-control-") {
			out = append(out, name+": "+strings.Join(values, ","))
		}
	}
	sort.Strings(out)
	return out
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
