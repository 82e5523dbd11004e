package transfer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/backtoorigin/backtoorigin/internal/sourceendpoint"
)

// DefaultSourceEndpoint is Google Cloud Storage's XML API.
const DefaultSourceEndpoint = sourceendpoint.Default

// Source reads objects from a GCS bucket (or any S3-compatible origin)
// over its XML API: HEAD and ranged GET of {Endpoint}/{Bucket}/{key}.
type Source struct {
	// Endpoint is scheme://host[:port]; a host starting with {bucket}. is
	// virtual-hosted (sourceendpoint), otherwise the bucket is the first
	// path segment.
	Endpoint string
	Bucket   string
	// Credentials, when set, sign requests with SigV4 (GCS HMAC keys
	// against GCS's S3-compatible API). Nil reads anonymously.
	Credentials aws.CredentialsProvider
	Region      string // SigV4 region; GCS accepts "auto"
	HTTP        *http.Client
}

// NewSourceHTTPClient returns the client a Source needs: Go must neither
// add its own Accept-Encoding nor transparently gunzip, or gzip-encoded
// objects would arrive decompressed and fail their checksum.
//
// It also speaks HTTP/1.1 only: concurrent ranged GETs then each get their
// own TCP connection (and congestion window) instead of sharing one
// HTTP/2 connection, which is what makes parallel reads faster than one.
func NewSourceHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t}
}

// refuseRedirect keeps every read on the URL the engine built: a
// redirect could lead a signed read to another bucket or host. The 3xx
// itself is then answered as a SourceStatusError naming its Location.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// SourceObject is what a HEAD of the source tells about one version.
type SourceObject struct {
	Size       int64 // stored bytes (compressed size for gzip objects)
	Generation string
	ETag       string
	CRC32C     *uint32 // from x-goog-hash; nil when the origin gives none
	Header     http.Header
}

// SourceStatusError is an unexpected HTTP status from the source.
type SourceStatusError struct {
	Op         string
	Key        string
	StatusCode int
	Body       string
	Location   string // of a redirect, which is never followed
}

func (e *SourceStatusError) Error() string {
	if e.Location != "" {
		return fmt.Sprintf("%s source %q: HTTP %d redirect to %q, not followed", e.Op, e.Key, e.StatusCode, e.Location)
	}
	return fmt.Sprintf("%s source %q: HTTP %d: %s", e.Op, e.Key, e.StatusCode, e.Body)
}

// ErrSourceNotFound is returned (wrapped) when the key, or the pinned
// generation of it, does not exist at the source.
var ErrSourceNotFound = errors.New("source object not found")

// ErrSourceForbidden is returned (wrapped) for a 403 from the source. GCS
// answers 403 instead of 404 for a missing object when the reader may not
// list the bucket (a bucket public through object ACLs), and 403 for every
// object of a private bucket read without credentials.
var ErrSourceForbidden = errors.New("source denied access")

func (e *SourceStatusError) Is(target error) bool {
	return target == ErrSourceNotFound && e.StatusCode == http.StatusNotFound ||
		target == ErrSourceForbidden && e.StatusCode == http.StatusForbidden
}

// objectURL escapes the path the way SigV4 canonicalises S3 paths (with
// the SDK's own escaper: RFC 3986 unreserved characters and '/' kept), so
// the URL sent and the URL signed are the same bytes, and '+', '%', spaces
// and unicode reach the origin unambiguously.
func (s *Source) objectURL(key, generation string) (*url.URL, error) {
	endpoint, err := sourceendpoint.ParseLocal(s.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("source endpoint: %w", err)
	}
	u, err := url.Parse(endpoint.BaseURL(s.Bucket))
	if err != nil {
		return nil, fmt.Errorf("parse source endpoint %q: %w", s.Endpoint, err)
	}
	path := endpoint.OriginPath(s.Bucket) + "/" + key
	u.Path = path
	u.RawPath = httpbinding.EscapePath(path, false)
	u.RawQuery = ""
	if generation != "" {
		u.RawQuery = "generation=" + url.QueryEscape(generation)
	}
	return u, nil
}

var signer = v4.NewSigner()

// CredentialsRefresher is a credentials provider that can read its key
// again (the transfer function's, from Secrets Manager). On a 403 the source
// re-reads once before calling the object forbidden, so a rotated HMAC key
// is picked up without a new container. Refresh reports whether the key
// changed; it may decline to read again so soon after the last read.
type CredentialsRefresher interface {
	aws.CredentialsProvider
	Refresh(ctx context.Context) (changed bool, err error)
}

// do sends one request. Accept-Encoding: gzip asks for the stored bytes
// (no decompressive transcoding); it is added after signing because
// Google's front end rewrites that header, which would break a signature
// covering it.
func (s *Source) do(ctx context.Context, method, key, generation string, header http.Header) (*http.Response, error) {
	resp, err := s.send(ctx, method, key, generation, header)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		return resp, err
	}
	refresher, ok := s.Credentials.(CredentialsRefresher)
	if !ok {
		return resp, nil
	}
	changed, rerr := refresher.Refresh(ctx)
	if rerr != nil || !changed {
		return resp, nil // the 403 stands; a failed re-read is the caller's forbidden, not a new error
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return s.send(ctx, method, key, generation, header)
}

// send builds, signs and sends one request.
func (s *Source) send(ctx context.Context, method, key, generation string, header http.Header) (*http.Response, error) {
	u, err := s.objectURL(key, generation)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("build %s request for %q: %w", method, key, err)
	}
	req.URL = u // keep our RawPath exactly
	for k, v := range header {
		req.Header[k] = v
	}
	if s.Credentials != nil {
		creds, err := s.Credentials.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("source credentials: %w", err)
		}
		const unsigned = "UNSIGNED-PAYLOAD"
		req.Header.Set("X-Amz-Content-Sha256", unsigned)
		region := s.Region
		if region == "" {
			region = "auto"
		}
		sign := signer
		if _, refreshable := s.Credentials.(CredentialsRefresher); refreshable {
			// The SDK's signer caches derived keys by access key id, not by secret: a key
			// rotated under the same id would keep signing with the old secret until midnight.
			// A fresh signer derives per request (four HMACs, nothing next to the request).
			sign = v4.NewSigner()
		}
		if err := sign.SignHTTP(ctx, creds, req, unsigned, "s3", region, time.Now(), func(o *v4.SignerOptions) {
			o.DisableURIPathEscaping = true // the path is escaped once, by objectURL, as S3 expects
		}); err != nil {
			return nil, fmt.Errorf("sign %s %q: %w", method, key, err)
		}
	}
	req.Header.Set("Accept-Encoding", "gzip")
	client := s.HTTP
	if client == nil {
		client = defaultSourceClient()
	}
	// Whatever client the caller gave: never follow a redirect.
	noRedirect := *client
	noRedirect.CheckRedirect = refuseRedirect
	client = &noRedirect
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s source %q: %w", method, key, err)
	}
	return resp, nil
}

// defaultSourceClient is built on first use: callers that pass their own
// client (the Lambda does) never pay for a second transport.
var defaultSourceClient = sync.OnceValue(NewSourceHTTPClient)

func statusError(op, key string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return &SourceStatusError{Op: op, Key: key, StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body)), Location: resp.Header.Get("Location")}
}

// Head reads the metadata of key, of one generation when generation is
// set.
func (s *Source) Head(ctx context.Context, key, generation string) (SourceObject, error) {
	resp, err := s.do(ctx, http.MethodHead, key, generation, nil)
	if err != nil {
		return SourceObject{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return SourceObject{}, statusError("head", key, resp)
	}
	obj, err := objectFromHeader(key, resp.Header)
	if err != nil {
		return SourceObject{}, fmt.Errorf("head %w", err)
	}
	if generation != "" && obj.Generation != "" && obj.Generation != generation {
		return SourceObject{}, fmt.Errorf("head source %q: asked for generation %s, got %s", key, generation, obj.Generation)
	}
	return obj, nil
}

// objectFromHeader reads what a HEAD or a whole-object GET says about the
// version it describes: stored size, generation, ETag, CRC32C and the
// object headers.
func objectFromHeader(key string, h http.Header) (SourceObject, error) {
	size := h.Get("X-Goog-Stored-Content-Length")
	if size == "" {
		size = h.Get("Content-Length")
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 {
		return SourceObject{}, fmt.Errorf("source %q: bad length %q", key, size)
	}
	obj := SourceObject{Size: n, Generation: h.Get("X-Goog-Generation"), ETag: h.Get("ETag"), Header: h}
	for _, v := range h.Values("X-Goog-Hash") {
		for _, kv := range strings.Split(v, ",") {
			if b64, ok := strings.CutPrefix(strings.TrimSpace(kv), "crc32c="); ok {
				c, err := decodeCRC32C(b64)
				if err != nil {
					return SourceObject{}, fmt.Errorf("source %q: x-goog-hash: %w", key, err)
				}
				obj.CRC32C = &c
			}
		}
	}
	return obj, nil
}

// Open GETs the current version of key whole. Its response headers say
// everything a HEAD would (GCS sends size, generation, x-goog-hash and the
// object headers on a GET too), so a copy that has no version to pin yet
// learns the object and receives its bytes in one request. The body is
// exactly obj.Size stored bytes; the caller closes it.
func (s *Source) Open(ctx context.Context, key string) (SourceObject, io.ReadCloser, error) {
	resp, err := s.do(ctx, http.MethodGet, key, "", nil)
	if err != nil {
		return SourceObject{}, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return SourceObject{}, nil, statusError("get", key, resp)
	}
	obj, err := objectFromHeader(key, resp.Header)
	if err == nil && resp.ContentLength >= 0 && resp.ContentLength != obj.Size {
		err = fmt.Errorf("source %q: %d bytes announced, %d stored (transcoded?)", key, resp.ContentLength, obj.Size)
	}
	if err != nil {
		resp.Body.Close()
		return SourceObject{}, nil, fmt.Errorf("get %w", err)
	}
	return obj, resp.Body, nil
}

// ErrSourceChanged means the pinned version is no longer what the origin
// serves (an origin without generations answered If-Match with 412).
var ErrSourceChanged = errors.New("source object changed during the copy")

// Get opens bytes [off, off+n) of the version described by obj. The read
// is pinned: to obj.Generation with ?generation= on GCS, else to obj.ETag
// with If-Match. The caller must read exactly n bytes and close the body.
func (s *Source) Get(ctx context.Context, key string, obj SourceObject, off, n int64) (io.ReadCloser, error) {
	header := http.Header{}
	ranged := off != 0 || n != obj.Size
	if ranged {
		header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	if obj.Generation == "" && obj.ETag != "" {
		header.Set("If-Match", obj.ETag)
	}
	resp, err := s.do(ctx, http.MethodGet, key, obj.Generation, header)
	if err != nil {
		return nil, err
	}
	want := http.StatusOK
	if ranged {
		want = http.StatusPartialContent
	}
	switch {
	case resp.StatusCode == http.StatusPreconditionFailed:
		resp.Body.Close()
		return nil, fmt.Errorf("get source %q: %w", key, ErrSourceChanged)
	case resp.StatusCode != want:
		return nil, statusError("get", key, resp)
	}
	if g := resp.Header.Get("X-Goog-Generation"); obj.Generation != "" && g != obj.Generation {
		resp.Body.Close()
		return nil, fmt.Errorf("get source %q: pinned generation %s, served %s: %w", key, obj.Generation, g, ErrSourceChanged)
	}
	if ranged {
		wantRange := fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, obj.Size)
		if cr := resp.Header.Get("Content-Range"); cr != wantRange {
			resp.Body.Close()
			return nil, fmt.Errorf("get source %q: Content-Range %q, want %q", key, cr, wantRange)
		}
	}
	if resp.ContentLength >= 0 && resp.ContentLength != n {
		resp.Body.Close()
		return nil, fmt.Errorf("get source %q: %d bytes announced, want %d (transcoded?)", key, resp.ContentLength, n)
	}
	return resp.Body, nil
}

func (e *Engine) head(ctx context.Context, key, version string) (SourceObject, error) {
	generation := version
	if isETag(version) {
		generation = "" // origins without generations: compare ETags instead
	}
	var obj SourceObject
	err := e.retry.do(ctx, func() (err error) {
		obj, err = e.source.Head(ctx, key, generation)
		return err
	})
	return obj, err
}

// versionOf names the version a copy is pinned to: the GCS generation, or
// the quoted ETag for S3-compatible origins that have no generations.
func versionOf(obj SourceObject) string {
	if obj.Generation != "" {
		return obj.Generation
	}
	return obj.ETag
}

func isETag(version string) bool { return len(version) > 0 && version[0] == '"' }
