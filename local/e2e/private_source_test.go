package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/aws/jsii-runtime-go"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/local/front"
	"github.com/backtoorigin/backtoorigin/local/harness"
)

// privateSourceDomain is the private source's host as the template names it
// (sourceEndpoint); the harness serves it from versitygw on 127.0.0.1, and
// every signature covers this Host.
const privateSourceDomain = "private-source.example.com"

// keyTTL is the origin-request function's key cache TTL in this test, set
// through the function's test hook (deployed: 5 minutes): longer than the
// test, so every signed fetch uses the key read first.
const keyTTL = 10 * time.Minute

// waitCopied waits for o in S3 and checks its bytes, type, caching and
// that it has no Content-Encoding (the source has none; the engine's upload
// framing, aws-chunked, must not become the object's).
func waitCopied(s *suite, o object) {
	s.t.Helper()
	deadline := time.Now().Add(landWait)
	for {
		out, err := s.h.S3Client.GetObject(s.ctx, &s3.GetObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(o.key)})
		if err == nil {
			got, rerr := io.ReadAll(out.Body)
			out.Body.Close()
			if rerr != nil || !bytes.Equal(got, o.content) {
				s.t.Errorf("s3://%s: %d bytes (%v), want the %d source bytes", o.key, len(got), rerr, len(o.content))
			}
			if ce := aws.ToString(out.ContentEncoding); ce != "" {
				s.t.Errorf("s3://%s: Content-Encoding %q, want none, as at the source", o.key, ce)
			}
			if aws.ToString(out.ContentType) != o.contentType || aws.ToString(out.CacheControl) != o.cacheControl {
				s.t.Errorf("s3://%s: Content-Type %q, Cache-Control %q; want %q, %q", o.key, aws.ToString(out.ContentType), aws.ToString(out.CacheControl), o.contentType, o.cacheControl)
			}
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("s3://%s not there after %s: %v", o.key, landWait, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exchanges keeps the front's exchanges per origin URI.
type exchanges struct {
	mu     sync.Mutex
	byPath map[string][]front.Exchange
}

func (e *exchanges) observe(ex front.Exchange) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byPath[ex.OriginURI] = append(e.byPath[ex.OriginURI], ex)
}

// nth returns the nth exchange (from 1) for path. The front records an
// exchange once it has answered, so a client can hold the answer a moment
// before the record exists: wait for it rather than read the previous one.
func (e *exchanges) nth(t *testing.T, path string, n int) front.Exchange {
	t.Helper()
	var got front.Exchange
	waitFor(t, 10*time.Second, fmt.Sprintf("exchange %d for %s", n, path), func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		if all := e.byPath[path]; len(all) >= n {
			got = all[n-1]
			return true
		}
		return false
	})
	return got
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The whole flow against a private source: the template's signing
// origin-request function (the synthesized bundle) signs the failover with
// the key from Secrets Manager (a stand-in), leaves the S3 request alone,
// caches the key, and the transfer function reads the same secret and
// copies the object under the same key.
func TestPrivateSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), suiteWait)
	defer cancel()
	d := synthTemplate(t, map[string]string{
		"sourceEndpoint":   "https://" + privateSourceDomain,
		"sourceRegion":     standin.S3Region,
		"sourceHmacSecret": harness.SourceHMACSecret,
	})
	jsii.Close()
	if d.OriginRequest == nil || d.OriginRequest.Bundle == "" || d.SourceDomainName != privateSourceDomain || !d.FailoverToGCS {
		t.Fatalf("template: %+v, origin-request %+v", d, d.OriginRequest)
	}
	seen := &exchanges{byPath: map[string][]front.Exchange{}}
	h, err := harness.Start(ctx, harness.Options{
		Distribution:        d,
		PrivateSource:       true,
		OriginRequestKeyTTL: keyTTL,
		FunctionTimeout:     30 * time.Second,
		VisibilityTimeout:   35 * time.Second,
		Instances:           1,
		OnExchange:          seen.observe,
	})
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	defer h.Close()
	s := &suite{t: t, ctx: ctx, h: h, http: &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}}}
	// The store's own key, for putting objects; no aws-chunked upload, which
	// versitygw would keep as the object's Content-Encoding.
	sourceClient := func() *s3.Client {
		return h.PrivateSource.Client(func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired })
	}
	source := sourceClient()
	put := func(o object) {
		t.Helper()
		if _, err := source.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(harness.GCSBucket), Key: aws.String(o.key),
			Body: bytes.NewReader(o.content), ContentType: aws.String(o.contentType), CacheControl: aws.String(o.cacheControl)}); err != nil {
			t.Fatal(err)
		}
	}
	edgeReads := func() []standin.SecretRead { return h.Secrets.Reads("aws-sdk-js") }
	transferReads := func() []standin.SecretRead { return h.Secrets.Reads("aws-sdk-go-v2") }
	signedWith := func(ex front.Exchange) string {
		t.Helper()
		calls := ex.OriginRequests
		if len(calls) != 2 || calls[0].Origin != "s3" || calls[1].Origin != "gcs" {
			t.Fatalf("%s: origin-request calls %+v, want one for S3 then one for the source", ex.OriginURI, calls)
		}
		// The S3 request carries OAC's signature: the function must return it as it came.
		if a, b := asJSON(calls[0].Sent), asJSON(calls[0].Returned); a != b {
			t.Errorf("%s: the function changed the S3 request:\n  sent     %s\n  returned %s", ex.OriginURI, a, b)
		}
		if _, ok := calls[1].Sent.Headers["authorization"]; ok {
			t.Fatalf("%s: the source request had a signature before the function", ex.OriginURI)
		}
		auth := calls[1].Returned.Headers["authorization"]
		if len(auth) != 1 || !strings.HasPrefix(auth[0].Value, "AWS4-HMAC-SHA256 Credential=") {
			t.Fatalf("%s: source request not signed: %+v", ex.OriginURI, calls[1].Returned.Headers)
		}
		keyID, _, _ := strings.Cut(strings.TrimPrefix(auth[0].Value, "AWS4-HMAC-SHA256 Credential="), "/")
		return keyID
	}

	first := object{key: "private/report.pdf", content: randomBytes(t, 200_000), contentType: "application/pdf", cacheControl: "public, max-age=60"}
	put(first)
	oldKey := h.PrivateSource.AccessKeyID

	// Unsigned, the source refuses: without the signing function the
	// failover would be a 403 to viewers.
	resp, err := s.http.Get(h.PrivateSource.Endpoint + "/" + harness.GCSBucket + "/" + first.key)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned GET of the source: %d, want 403", resp.StatusCode)
	}

	r := s.do("GET", "/"+first.key, nil)
	if r.status != 200 || !bytes.Equal(r.body, first.content) {
		t.Fatalf("first GET: %d, %d bytes; want 200 with the %d source bytes", r.status, len(r.body), len(first.content))
	}
	s.mustOrigin(r, "gcs", "first GET") // the front's name for the secondary origin
	if got := signedWith(seen.nth(t, "/"+first.key, 1)); got != oldKey {
		t.Errorf("first GET signed with key %q, want the source's %q", got, oldKey)
	}
	waitCopied(s, first)
	s.waitQueuesDrained()

	r = s.do("GET", "/"+first.key, nil)
	if r.status != 200 || !bytes.Equal(r.body, first.content) {
		t.Fatalf("second GET: %d, %d bytes", r.status, len(r.body))
	}
	s.mustOrigin(r, "s3", "second GET")
	if ex := seen.nth(t, "/"+first.key, 2); len(ex.OriginRequests) != 1 || asJSON(ex.OriginRequests[0].Sent) != asJSON(ex.OriginRequests[0].Returned) {
		t.Errorf("second GET: origin-request calls %+v, want one for S3, unchanged", ex.OriginRequests)
	}
	if n := len(edgeReads()); n != 1 {
		t.Errorf("the edge function read the secret %d times, want once: it caches the key", n)
	}
	if n := len(transferReads()); n != 1 {
		t.Errorf("the transfer function read the secret %d times, want once (at init)", n)
	}

}
