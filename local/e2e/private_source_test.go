package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/jsii-runtime-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
	"github.com/backtoorigin/backtoorigin/local/front"
	"github.com/backtoorigin/backtoorigin/local/harness"
)

// privateSourceDomain is the private source's host as the template names it
// (sourceEndpoint); the harness serves it from versitygw on 127.0.0.1, and
// every signature covers this Host.
const privateSourceDomain = "private-source.example.com"

// keyTTL is the origin-request function's key cache TTL in this test, set
// through the function's createHandler test hook (deployed: 5 minutes):
// long enough that two signed fetches right after each other share one
// read, short enough to wait out after a rotation.
const keyTTL = 15 * time.Second

// cacheSlack is added to every wait for a key cache to run out: a cache's
// clock starts when its owner has the secret's answer, a little after the
// stand-in stamped SecretRead.Answered (delivery, parsing, scheduling on a
// loaded machine).
const cacheSlack = time.Second

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

// httpStatus is the HTTP status of an SDK call's error (0 if none).
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The whole flow against a private source: the template's signing
// origin-request function (the synthesized bundle) signs the failover with
// the key from Secrets Manager (a stand-in), leaves the S3 request alone,
// caches the key, and the transfer function reads the same secret and
// copies the object under the same key. Then the key is rotated at the
// source (a second key, the secret switched to it, the old key deleted
// while the store runs): once the edge function's cache runs out it signs
// with the new key, the transfer function re-reads on its 403 and copies,
// and each reads the secret exactly once more.
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

	// sourceKey is the key the secret holds now.
	sourceKey := func() standin.AccessKey {
		t.Helper()
		v, _ := h.Secrets.Value(harness.SourceHMACSecret)
		var k struct{ AccessKeyID, SecretAccessKey string }
		if err := json.Unmarshal([]byte(v), &k); err != nil || k.AccessKeyID == "" {
			t.Fatalf("secret %s is %q: %v", harness.SourceHMACSecret, v, err)
		}
		return standin.AccessKey{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}
	}
	// getFromSource reads key from the store directly, signed with k.
	getFromSource := func(k standin.AccessKey, key string) error {
		c := standin.NewS3Client(h.PrivateSource.Endpoint, k.AccessKeyID, k.SecretAccessKey)
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(harness.GCSBucket), Key: aws.String(key)})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	// failoverGET is a viewer's first GET of o: served from the source
	// through the signed failover, signed with the key id it returns.
	failoverGET := func(o object, what string) string {
		t.Helper()
		r := s.do("GET", "/"+o.key, nil)
		if r.status != 200 || !bytes.Equal(r.body, o.content) {
			t.Fatalf("%s: %d, %d bytes; want 200 with the %d source bytes", what, r.status, len(r.body), len(o.content))
		}
		s.mustOrigin(r, "gcs", what) // the front's name for the secondary origin
		return signedWith(seen.nth(t, "/"+o.key, 1))
	}
	// s3GET is a later GET of o: served from S3, the function leaving the
	// S3 request as it came.
	s3GET := func(o object, n int, what string) {
		t.Helper()
		r := s.do("GET", "/"+o.key, nil)
		if r.status != 200 || !bytes.Equal(r.body, o.content) {
			t.Fatalf("%s: %d, %d bytes", what, r.status, len(r.body))
		}
		s.mustOrigin(r, "s3", what)
		if ex := seen.nth(t, "/"+o.key, n); len(ex.OriginRequests) != 1 || asJSON(ex.OriginRequests[0].Sent) != asJSON(ex.OriginRequests[0].Returned) {
			t.Errorf("%s: origin-request calls %+v, want one for S3, unchanged", what, ex.OriginRequests)
		}
	}
	pdf := func(key string) object {
		return object{key: key, content: randomBytes(t, 200_000), contentType: "application/pdf", cacheControl: "public, max-age=60"}
	}

	first, second := pdf("private/report.pdf"), pdf("private/annex.pdf")
	put(first)
	put(second)
	oldKey := sourceKey()
	if oldKey.AccessKeyID == h.PrivateSource.AccessKeyID {
		t.Fatalf("the secret holds the store's root key, not a reader key that can be deleted")
	}

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

	if got := failoverGET(first, "first GET"); got != oldKey.AccessKeyID {
		t.Errorf("first GET signed with key %q, want the secret's %q", got, oldKey.AccessKeyID)
	}
	// Right after, within the TTL: signed with the cached key, no new read.
	if got := failoverGET(second, "first GET of a second object"); got != oldKey.AccessKeyID {
		t.Errorf("second object's GET signed with key %q, want the secret's %q", got, oldKey.AccessKeyID)
	}
	if reads := edgeReads(); len(reads) != 1 {
		t.Fatalf("the edge function read the secret %d times for two signed fetches right after each other, want once: it caches the key for %s; reads %+v",
			len(reads), keyTTL, reads)
	}
	waitCopied(s, first)
	waitCopied(s, second)
	s.waitQueuesDrained()
	s3GET(first, 2, "second GET")
	if n := len(edgeReads()); n != 1 {
		t.Fatalf("the edge function read the secret %d times, want once: it caches the key", n)
	}
	if n := len(transferReads()); n != 1 {
		t.Fatalf("the transfer function read the secret %d times, want once (at init)", n)
	}

	// Rotation, as the README's runbook does it at the source: a second
	// key, the secret switched to it, the old key deleted. versitygw keeps
	// running; the old key is refused from now on (403 InvalidAccessKeyId:
	// see standin.StartS3IAM for where versitygw's source says so).
	newKey, err := h.PrivateSource.AddReader(ctx, harness.GCSBucket)
	if err != nil {
		t.Fatalf("second source key: %v", err)
	}
	h.PutSourceKey(newKey)
	if err := h.PrivateSource.RemoveReader(ctx, harness.GCSBucket, oldKey.AccessKeyID); err != nil {
		t.Fatalf("delete the old source key: %v", err)
	}
	rotated := time.Now()
	if err := getFromSource(oldKey, first.key); httpStatus(err) != http.StatusForbidden {
		t.Fatalf("GET of the source with the deleted key: %v (status %d), want a 403", err, httpStatus(err))
	}
	if err := getFromSource(newKey, first.key); err != nil {
		t.Fatalf("GET of the source with the new key: %v", err)
	}
	third := pdf("private/after-rotation.pdf")
	put(third)

	// Both functions still hold the deleted key. The edge function drops it
	// only when its TTL runs out (an origin-request function never sees the
	// response, and no origin-response function drops it on a 403); the
	// transfer function re-reads on a 403, but at most once per
	// MinSecretRereadInterval since its last read. Wait both bounds out,
	// from the reads the stand-in answered.
	until := edgeReads()[0].Answered.Add(keyTTL + cacheSlack)
	if tr := transferReads()[0].Answered.Add(transferlambda.MinSecretRereadInterval + cacheSlack); tr.After(until) {
		until = tr
	}
	t.Logf("waiting %s for the edge key cache (TTL %s) and the transfer's re-read bound (%s) to pass",
		time.Until(until).Round(time.Millisecond), keyTTL, transferlambda.MinSecretRereadInterval)
	time.Sleep(time.Until(until))

	// (a) The first GET of an object put after the rotation is still served
	// through the signed failover, now signed with the new key, read once.
	if got := failoverGET(third, "first GET after the rotation"); got != newKey.AccessKeyID {
		t.Errorf("first GET after the rotation signed with key %q, want the new %q (the old was %q)", got, newKey.AccessKeyID, oldKey.AccessKeyID)
	}
	if reads := edgeReads(); len(reads) != 2 || !reads[1].At.After(rotated) {
		t.Errorf("edge reads of the secret: %+v; want the first and one more after the rotation (%s)", reads, rotated.Format(time.StampMilli))
	}
	// (b) The transfer function, signing with the deleted key, gets a 403,
	// reads the secret again (the only thing that makes it re-read), and
	// copies the object with the new key.
	waitCopied(s, third)
	s.waitQueuesDrained()
	if reads := transferReads(); len(reads) != 2 || !reads[1].At.After(rotated) {
		t.Errorf("transfer reads of the secret: %+v; want the one at init and one after the rotation (%s), on its 403", reads, rotated.Format(time.StampMilli))
	}
	// (c) The next GET comes from S3.
	s3GET(third, 2, "second GET after the rotation")
	// (d) Nothing read the secret again.
	if e, tr := len(edgeReads()), len(transferReads()); e != 2 || tr != 2 {
		t.Errorf("after the copy, the edge read the secret %d times, the transfer %d; want 2 each", e, tr)
	}
}
