// Package front is a local stand-in for the CloudFront distribution, for
// tests and the demo only (nothing here is deployed). It reproduces exactly
// the behaviours the system relies on and nothing more:
//
//   - Every viewer request first goes through the real viewer-request
//     CloudFront Function (lambda/viewer-request/index.js, under node); what
//     it returns (uri, headers) is the request from then on, for the origins
//     and the origin-response handler alike.
//   - GET and HEAD only (the distribution allows GET/HEAD/OPTIONS, and origin
//     groups fail over only for those); anything else is 405.
//   - The request goes to the primary origin, the S3 stand-in, signed with
//     SigV4 as Origin Access Control signs it (path-style, one bucket), with
//     the path as CloudFront forwards it: a literal "+" stays "+", which S3
//     reads as a space.
//   - On 403 or 404 from S3, or when S3 cannot be reached, it fails over to
//     the secondary origin, the GCS stand-in, at /<bucket><uri>, as the
//     GCS origin with origin path /<bucket> does.
//   - Range is passed through to the origin; Accept-Encoding is reduced to
//     "gzip" or nothing, as a cache policy with gzip normalisation does.
//   - When the template associates an origin-request Lambda@Edge function
//     (Distribution.OriginRequest), it runs before every origin fetch, for
//     the S3 request and the source request alike, on CloudFront's
//     origin-request event; the request it returns (uri and headers, Host
//     included) is what is sent. The S3 request is signed for Origin Access
//     Control after the function, as CloudFront signs it; a function error
//     is a 502. Changing the origin is not imitated (an error).
//   - The origin's response passes through the real origin-response
//     Lambda@Edge handler before the viewer sees it; the status and headers
//     the viewer gets are the handler's output. A handler failure is a 502,
//     as on CloudFront.
//
// Given the synthesized template (Config.Distribution, read by local/cfn),
// it takes from it instead: whether the behavior fails over to GCS and on
// which codes (the cutover has S3 alone), the allowed methods, whether the
// origin-response function is associated, the viewer headers the origin
// request policy forwards, the response headers policy's CORS headers, and
// the error-caching TTLs: a final 4xx is remembered per path for its TTL, as
// CloudFront caches errors. SetDistribution is a redeploy.
//
// Otherwise it does not cache (every request reaches an origin, like a TTL of 0), does
// not compress or decompress (an origin's gzip reaches the viewer as gzip,
// whatever the viewer accepts, as on CloudFront), and invokes the handler only for the origin whose response
// is served. It adds X-Local-Origin: s3|gcs so tests and the demo can tell
// which origin answered.
package front

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/backtoorigin/backtoorigin/local/cfn"
	"github.com/backtoorigin/backtoorigin/local/edgerun"
)

// OriginHeader names the response header telling which origin answered.
const OriginHeader = "X-Local-Origin"

// emptySHA256 is the payload hash of a GET or HEAD.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Edge invokes the origin-response handler.
type Edge interface {
	Invoke(ctx context.Context, ev edgerun.Event, lc edgerun.Context) (edgerun.Response, error)
}

// OriginRequest runs the origin-request Lambda@Edge function.
type OriginRequest interface {
	OriginRequest(ctx context.Context, ev edgerun.RequestEvent, lc edgerun.Context) (edgerun.Request, error)
}

// ViewerRequest runs the viewer-request CloudFront Function.
type ViewerRequest interface {
	ViewerRequest(ctx context.Context, ev edgerun.FunctionEvent) (edgerun.FunctionRequest, error)
}

// Config wires the front to its origins and the edge handler.
type Config struct {
	S3Endpoint    string // http://127.0.0.1:PORT of the S3 stand-in
	S3Bucket      string
	S3Region      string
	S3Credentials aws.Credentials

	GCSEndpoint string // http://127.0.0.1:PORT of the GCS stand-in
	GCSBucket   string
	// GCSDomainName is the GCS origin's domain as the distribution names
	// it (the edge settings' gcsDomainName), reported in the event: the
	// requests themselves go to GCSEndpoint.
	GCSDomainName string

	// ViewerRequest, if set, runs on every viewer request before anything
	// else (nil: a distribution without a viewer-request function).
	ViewerRequest ViewerRequest

	Edge         Edge
	FunctionName string // e.g. us-east-1.BackToOriginEdge-OriginResponse

	// OriginRequest runs the origin-request function; it must be set when
	// the distribution associates one.
	OriginRequest             OriginRequest
	OriginRequestFunctionName string // e.g. us-east-1.BackToOriginEdge-OriginRequest
	// EdgeTimeout bounds one handler invocation (the function's timeout).
	EdgeTimeout time.Duration

	// Distribution, if set, is the template's behavior to imitate (see the
	// package comment); nil is the failover behavior with no CORS policy.
	Distribution *cfn.Distribution

	// Observe, if set, is told about every request once it is answered.
	Observe func(Exchange)
	Client  *http.Client
}

// Exchange records what happened to one viewer request.
type Exchange struct {
	Method    string
	URI       string // as received, percent-encoded
	OriginURI string // after the viewer-request function: what the origins got
	Range     string
	S3Status  int   // 0 if S3 could not be reached
	S3Err     error // why S3 could not be reached
	Origin    string
	Status    int   // what the viewer got
	Size      int64 // the object's full size when known, else -1
	EdgeErr   error
	OriginErr error
	// OriginRequests are the origin-request function's invocations, in
	// order: what the front would have sent each origin and what the
	// function returned, which is what was sent.
	OriginRequests []OriginRequestCall
	Duration       time.Duration
}

// OriginRequestCall is one origin-request invocation.
type OriginRequestCall struct {
	Origin   string // s3 or gcs
	Sent     edgerun.Request
	Returned edgerun.Request
}

// errOriginRequest marks a failure of the origin-request function.
var errOriginRequest = errors.New("origin-request function failed")

// Front is the http.Handler.
type Front struct {
	cfg    Config
	signer *v4.Signer
	dist   atomic.Pointer[cfn.Distribution]

	errorsMu sync.Mutex
	errors   map[string]cachedError
}

// cachedError is a final 4xx CloudFront keeps for the error-caching TTL.
type cachedError struct {
	status  int
	header  http.Header
	body    []byte
	expires time.Time
}

// builtIn is the distribution as the stack deploys it by default.
var builtIn = &cfn.Distribution{
	FailoverToGCS:  true,
	FailoverCodes:  []int{http.StatusForbidden, http.StatusNotFound},
	AllowedMethods: []string{http.MethodGet, http.MethodHead},
	OriginResponse: true,
}

// SetDistribution switches to another template's behavior, as a deploy
// does; errors cached under the old one stay until their TTL ends, as on
// CloudFront.
func (f *Front) SetDistribution(d *cfn.Distribution) {
	if d == nil {
		d = builtIn
	}
	f.dist.Store(d)
}

// New returns a front for cfg.
func New(cfg Config) *Front {
	if cfg.Client == nil {
		// Bytes pass as they come, as through CloudFront: Go's transport would otherwise ask
		// for gzip on its own when the viewer did not, and decompress the answer silently.
		// Accept-Encoding is the front's to set (see ServeHTTP).
		cfg.Client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true}}
	}
	if cfg.EdgeTimeout == 0 {
		cfg.EdgeTimeout = 30 * time.Second
	}
	if cfg.S3Region == "" {
		cfg.S3Region = "us-east-1"
	}
	f := &Front{
		cfg: cfg,
		// S3 signs the path as sent, without the second encoding other
		// services use.
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		errors: map[string]cachedError{},
	}
	f.SetDistribution(cfg.Distribution)
	return f
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ex := Exchange{Method: r.Method, URI: r.URL.EscapedPath(), Range: r.Header.Get("Range"), Size: -1}
	defer func() {
		ex.Duration = time.Since(start)
		if f.cfg.Observe != nil {
			f.cfg.Observe(ex)
		}
	}()
	uri, viewerHeader, err := f.viewerRequest(r.Context(), r)
	if err != nil {
		ex.EdgeErr = err
		fail(w, &ex, http.StatusServiceUnavailable, "viewer-request function failed") // CloudFront's answer to a failing function
		return
	}
	ex.OriginURI = uri
	dist := f.dist.Load()
	if !slices.Contains(dist.AllowedMethods, r.Method) {
		w.Header().Set("Allow", strings.Join(dist.AllowedMethods, ", "))
		fail(w, &ex, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if key, err := url.PathUnescape(strings.TrimPrefix(uri, "/")); err != nil || key == "" || !strings.HasPrefix(uri, "/") {
		fail(w, &ex, http.StatusBadRequest, "bad request")
		return
	}
	// GET and HEAD share a cache entry; OPTIONS has its own.
	cacheKey := uri
	if r.Method == http.MethodOptions {
		cacheKey = "OPTIONS " + uri
	}
	if cached, ok := f.cachedError(cacheKey); ok {
		serveCachedError(w, r, dist, cached, &ex)
		return
	}
	resp, out, ok := f.originResponse(w, r, dist, uri, originHeaders(dist, viewerHeader), &ex)
	if !ok {
		return
	}
	defer resp.Body.Close()
	f.respond(w, r, dist, cacheKey, resp, out, &ex)
}

// fail answers the viewer with status, as CloudFront does when a function
// or the origin fails, and records it.
func fail(w http.ResponseWriter, ex *Exchange, status int, msg string) {
	ex.Status = status
	http.Error(w, msg, status)
}

// originHeaders are the viewer headers CloudFront sends on to the origin:
// Range, Accept-Encoding normalised to gzip, and those the origin request
// policy forwards.
func originHeaders(dist *cfn.Distribution, viewerHeader http.Header) http.Header {
	hdr := http.Header{}
	if rng := viewerHeader.Get("Range"); rng != "" {
		hdr.Set("Range", rng)
	}
	if acceptsGzip(viewerHeader.Get("Accept-Encoding")) {
		hdr.Set("Accept-Encoding", "gzip")
	}
	for _, name := range dist.ForwardedHeaders {
		if v := viewerHeader.Values(name); len(v) > 0 {
			hdr[http.CanonicalHeaderKey(name)] = v
		}
	}
	return hdr
}

// serveCachedError answers from a cached error, as CloudFront does within
// the error-caching TTL.
func serveCachedError(w http.ResponseWriter, r *http.Request, dist *cfn.Distribution, cached cachedError, ex *Exchange) {
	ex.Origin, ex.Status = "cache", cached.status
	h := w.Header()
	for name, values := range cached.header {
		h[name] = values
	}
	applyCORS(h, dist.CORS, r)
	h.Set(OriginHeader, "cache")
	w.WriteHeader(cached.status)
	if r.Method == http.MethodGet {
		_, _ = w.Write(cached.body)
	}
}

// originResponse fetches uri from the origin (failing over as the
// distribution does) and runs the origin-response function on the answer.
// It returns the origin's response, whose body the caller closes, and the
// response the function let through; on a failure it has answered the
// viewer and returns false.
func (f *Front) originResponse(w http.ResponseWriter, r *http.Request, dist *cfn.Distribution, uri string, originHeaders http.Header, ex *Exchange) (*http.Response, edgerun.Response, bool) {
	origin, resp, originReq, err := f.fetch(r.Context(), dist, r, uri, originHeaders, ex)
	if errors.Is(err, errOriginRequest) {
		ex.EdgeErr = err
		fail(w, ex, http.StatusBadGateway, "origin-request function failed")
		return nil, edgerun.Response{}, false
	}
	if err != nil {
		ex.OriginErr = err
		fail(w, ex, http.StatusBadGateway, "origin unreachable")
		return nil, edgerun.Response{}, false
	}
	ex.Origin = origin
	ex.Size = objectSize(resp)

	out := edgerun.Response{Status: strconv.Itoa(resp.StatusCode), Headers: edgerun.Headers{}}
	for name, values := range resp.Header {
		for _, v := range values {
			out.Headers.Add(strings.ToLower(name), name, v)
		}
	}
	if dist.OriginResponse {
		out, err = f.edge(r.Context(), origin, uri, r, originReq, resp)
	}
	if err != nil {
		resp.Body.Close()
		ex.EdgeErr = err
		fail(w, ex, http.StatusBadGateway, "origin-response function failed")
		return nil, edgerun.Response{}, false
	}
	return resp, out, true
}

// respond sends the response the origin-response function let through,
// with the distribution's CORS headers, and caches it if it is an error
// the distribution caches.
func (f *Front) respond(w http.ResponseWriter, r *http.Request, dist *cfn.Distribution, cacheKey string, resp *http.Response, out edgerun.Response, ex *Exchange) {
	status, err := strconv.Atoi(out.Status)
	if err != nil {
		ex.EdgeErr = fmt.Errorf("handler returned status %q", out.Status)
		fail(w, ex, http.StatusBadGateway, "origin-response function failed")
		return
	}
	h := w.Header()
	for _, values := range out.Headers {
		for _, v := range values {
			h.Add(v.Key, v.Value)
		}
	}
	applyCORS(h, dist.CORS, r)
	h.Set(OriginHeader, ex.Origin)
	ex.Status = status
	if ttl := dist.ErrorCachingTTL[status]; ttl > 0 && status >= 400 && out.Body == nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		f.rememberError(cacheKey, cachedError{status: status, header: h.Clone(), body: body, expires: time.Now().Add(time.Duration(ttl) * time.Second)})
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
		return
	}
	if out.Body != nil {
		body := []byte(*out.Body)
		if out.BodyEncoding == "base64" {
			if body, err = base64.StdEncoding.DecodeString(*out.Body); err != nil {
				ex.EdgeErr = fmt.Errorf("handler returned a bad base64 body: %w", err)
			}
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
		return
	}
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, resp.Body)
	}
}

// viewerRequest runs the viewer-request function, if any, on r and returns
// the uri and headers it let through.
func (f *Front) viewerRequest(ctx context.Context, r *http.Request) (string, http.Header, error) {
	uri := r.URL.EscapedPath()
	if f.cfg.ViewerRequest == nil {
		return uri, r.Header, nil
	}
	headers := map[string]edgerun.FunctionValue{"host": {Value: r.Host}}
	for name, values := range r.Header {
		headers[strings.ToLower(name)] = edgerun.NewFunctionValue(values)
	}
	// Query values as they appear in the URL; the function leaves them alone
	// and no query reaches an origin (the cache key is the path only).
	query := map[string]edgerun.FunctionValue{}
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if name, value, _ := strings.Cut(pair, "="); name != "" {
			query[name] = edgerun.NewFunctionValue(append(existing(query, name), value))
		}
	}
	cookies := map[string]edgerun.FunctionValue{}
	for _, c := range r.Cookies() {
		cookies[c.Name] = edgerun.NewFunctionValue(append(existing(cookies, c.Name), c.Value))
	}
	out, err := f.cfg.ViewerRequest.ViewerRequest(ctx, edgerun.FunctionEvent{
		Version: "1.0",
		Context: edgerun.FunctionContext{
			DistributionDomainName: "d111111abcdef8.cloudfront.net",
			DistributionID:         "EDFDVBD6EXAMPLE",
			EventType:              "viewer-request",
			RequestID:              randomID(),
		},
		Viewer:  edgerun.FunctionViewer{IP: clientIP(r)},
		Request: edgerun.FunctionRequest{Method: r.Method, URI: uri, QueryString: query, Headers: headers, Cookies: cookies},
	})
	if err != nil {
		return "", nil, err
	}
	h := http.Header{}
	for name, v := range out.Headers {
		for _, value := range v.Values() {
			h.Add(name, value)
		}
	}
	return out.URI, h, nil
}

// existing lists the values already collected under name.
func existing(m map[string]edgerun.FunctionValue, name string) []string {
	if v, ok := m[name]; ok {
		return v.Values()
	}
	return nil
}

func (f *Front) cachedError(key string) (cachedError, bool) {
	f.errorsMu.Lock()
	defer f.errorsMu.Unlock()
	c, ok := f.errors[key]
	if ok && time.Now().After(c.expires) {
		delete(f.errors, key)
		return cachedError{}, false
	}
	return c, ok
}

func (f *Front) rememberError(key string, c cachedError) {
	f.errorsMu.Lock()
	defer f.errorsMu.Unlock()
	f.errors[key] = c
}

// applyCORS adds a response headers policy's CORS headers to a response for
// a CORS request (one with Origin) from an allowed origin, the preflight
// headers only to a preflight; with OriginOverride they replace the
// origin's.
func applyCORS(h http.Header, c *cfn.CORS, r *http.Request) {
	origin := r.Header.Get("Origin")
	if c == nil || origin == "" {
		return
	}
	anyOrigin := slices.Contains(c.AllowOrigins, "*")
	if !anyOrigin && !slices.Contains(c.AllowOrigins, origin) {
		return
	}
	set := func(name, value string) {
		if c.OriginOverride || h.Get(name) == "" {
			h.Set(name, value)
		}
	}
	if c.OriginOverride {
		for name := range h {
			if strings.HasPrefix(strings.ToLower(name), "access-control-") {
				h.Del(name)
			}
		}
	}
	allow := origin
	if anyOrigin {
		allow = "*"
	}
	set("Access-Control-Allow-Origin", allow)
	if c.AllowCredentials {
		set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ", "))
		set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ", "))
		if c.MaxAgeSec > 0 {
			set("Access-Control-Max-Age", strconv.Itoa(c.MaxAgeSec))
		}
		return
	}
	if len(c.ExposeHeaders) > 0 {
		set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ", "))
	}
}

// fetch asks S3, then GCS on failover, and returns the origin that answered.
func (f *Front) fetch(ctx context.Context, dist *cfn.Distribution, viewer *http.Request, uri string, hdr http.Header, ex *Exchange) (string, *http.Response, *http.Request, error) {
	method := viewer.Method
	s3URI, s3Header, _, err := f.originRequest(ctx, dist, viewer, "s3", uri, hdr, ex)
	if err != nil {
		return "", nil, nil, err
	}
	s3req, err := f.s3Request(ctx, method, s3URI, s3Header)
	if err != nil {
		return "", nil, nil, err
	}
	resp, err := f.cfg.Client.Do(s3req)
	switch {
	case !dist.FailoverToGCS && err != nil:
		return "", nil, nil, fmt.Errorf("S3 origin: %w", err)
	case !dist.FailoverToGCS:
		ex.S3Status = resp.StatusCode
		return "s3", resp, s3req, nil
	case err != nil:
		ex.S3Err = err // CloudFront fails over when it cannot connect, too
	case slices.Contains(dist.FailoverCodes, resp.StatusCode):
		ex.S3Status = resp.StatusCode
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	default:
		ex.S3Status = resp.StatusCode
		return "s3", resp, s3req, nil
	}
	gcsURI, gcsHeader, host, err := f.originRequest(ctx, dist, viewer, "gcs", uri, hdr, ex)
	if err != nil {
		return "", nil, nil, err
	}
	gcsReq, err := http.NewRequestWithContext(ctx, method, f.cfg.GCSEndpoint, nil)
	if err != nil {
		return "", nil, nil, fmt.Errorf("build GCS request: %w", err)
	}
	// The origin path plus the URI exactly as the viewer-request (and any
	// origin-request) function left it.
	gcsReq.URL.Opaque = "//" + gcsReq.URL.Host + "/" + f.cfg.GCSBucket + gcsURI
	gcsReq.Header = gcsHeader
	if host != "" {
		gcsReq.Host = host // as CloudFront sends it: the origin's domain, which a signature covers
	}
	resp, err = f.cfg.Client.Do(gcsReq)
	if err != nil {
		return "", nil, nil, fmt.Errorf("GCS origin: %w", err)
	}
	return "gcs", resp, gcsReq, nil
}

// sourceDomainName is the source origin's domain as the template names it.
func (f *Front) sourceDomainName(dist *cfn.Distribution) string {
	if dist.SourceDomainName != "" {
		return dist.SourceDomainName
	}
	return f.cfg.GCSDomainName
}

// origin is the event's origin object for the S3 or the source origin.
func (f *Front) origin(dist *cfn.Distribution, origin string) edgerun.Origin {
	if origin == "s3" {
		return edgerun.Origin{S3: &edgerun.S3Origin{
			AuthMethod:    "none",
			CustomHeaders: edgerun.Headers{},
			DomainName:    f.cfg.S3Bucket + ".s3." + f.cfg.S3Region + ".amazonaws.com",
			Path:          "",
			Region:        f.cfg.S3Region,
		}}
	}
	return edgerun.Origin{Custom: &edgerun.CustomOrigin{
		CustomHeaders:    edgerun.Headers{},
		DomainName:       f.sourceDomainName(dist),
		KeepaliveTimeout: 5,
		Path:             "/" + f.cfg.GCSBucket,
		Port:             443,
		Protocol:         "https",
		ReadTimeout:      30,
		SSLProtocols:     []string{"TLSv1.2"},
	}}
}

// originRequest runs the origin-request function, when the distribution
// associates one, on the request about to go to origin, and returns the
// uri, headers and Host the function let through (host "" without a
// function: the front's own). The event carries the headers CloudFront
// adds (Host: the origin's domain, User-Agent, Via); X-Forwarded-For is
// left out because the front's proxies on the way to the stand-ins append
// to it, which would break the S3 signature over it.
func (f *Front) originRequest(ctx context.Context, dist *cfn.Distribution, viewer *http.Request, origin, uri string, hdr http.Header, ex *Exchange) (string, http.Header, string, error) {
	if dist.OriginRequest == nil {
		return uri, hdr.Clone(), "", nil
	}
	if f.cfg.OriginRequest == nil {
		return "", nil, "", fmt.Errorf("%w: the distribution associates one and the front was given none", errOriginRequest)
	}
	o := f.origin(dist, origin)
	var host string
	if o.S3 != nil {
		host = o.S3.DomainName
	} else {
		host = o.Custom.DomainName
	}
	headers := edgerun.Headers{}
	headers.Add("host", "Host", host)
	for name, values := range hdr {
		for _, v := range values {
			headers.Add(strings.ToLower(name), name, v)
		}
	}
	headers.Add("user-agent", "User-Agent", "Amazon CloudFront")
	headers.Add("via", "Via", "2.0 local.cloudfront.net (CloudFront)")
	sent := edgerun.Request{
		ClientIP:    clientIP(viewer),
		Headers:     headers,
		Method:      viewer.Method,
		Origin:      o,
		QueryString: "", // the cache key is the path only, so no query reaches the origin
		URI:         uri,
	}
	// The function gets its own copy: what it does to it must not change sent.
	var event edgerun.Request
	if b, err := json.Marshal(sent); err != nil || json.Unmarshal(b, &event) != nil {
		return "", nil, "", fmt.Errorf("%w: encode the event", errOriginRequest)
	}
	requestID := randomID()
	ctx, cancel := context.WithTimeout(ctx, f.cfg.EdgeTimeout)
	defer cancel()
	got, err := f.cfg.OriginRequest.OriginRequest(ctx, edgerun.RequestEvent{Records: []edgerun.RequestRecord{{CF: edgerun.RequestCF{
		Config: edgerun.Config{
			DistributionDomainName: "d111111abcdef8.cloudfront.net",
			DistributionID:         "EDFDVBD6EXAMPLE",
			EventType:              "origin-request",
			RequestID:              requestID,
		},
		Request: event,
	}}}}, edgerun.Context{
		FunctionName:       f.cfg.OriginRequestFunctionName,
		FunctionVersion:    "1",
		InvokedFunctionARN: edgerun.FunctionARN(f.cfg.OriginRequestFunctionName, 1),
		AWSRequestID:       requestID,
		MemoryLimitInMB:    128,
		TimeoutMs:          int(f.cfg.EdgeTimeout / time.Millisecond),
	})
	if err != nil {
		return "", nil, "", fmt.Errorf("%w: %w", errOriginRequest, err)
	}
	ex.OriginRequests = append(ex.OriginRequests, OriginRequestCall{Origin: origin, Sent: sent, Returned: got})
	if a, b := mustJSON(sent.Origin), mustJSON(got.Origin); a != b {
		return "", nil, "", fmt.Errorf("%w: it changed the origin from %s to %s, which the front does not imitate", errOriginRequest, a, b)
	}
	out := http.Header{}
	var outHost string
	for lower, values := range got.Headers {
		for _, v := range values {
			if lower == "host" {
				outHost = v.Value
				continue
			}
			name := v.Key
			if name == "" {
				name = lower
			}
			out.Add(name, v.Value)
		}
	}
	if !strings.HasPrefix(got.URI, "/") {
		return "", nil, "", fmt.Errorf("%w: it returned uri %q", errOriginRequest, got.URI)
	}
	return got.URI, out, outHost, nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (f *Front) s3Request(ctx context.Context, method, uri string, hdr http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, f.cfg.S3Endpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("build S3 request: %w", err)
	}
	sent, signed, err := s3Paths(uri)
	if err != nil {
		return nil, fmt.Errorf("S3 path for %q: %w", uri, err)
	}
	prefix := "//" + req.URL.Host + "/" + f.cfg.S3Bucket
	req.URL.Opaque = prefix + signed
	req.Header = hdr.Clone()
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if err := f.signer.SignHTTP(ctx, f.cfg.S3Credentials, req, emptySHA256, "s3", f.cfg.S3Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign S3 request: %w", err)
	}
	req.URL.Opaque = prefix + sent
	return req, nil
}

// s3Paths is uri as the S3 origin gets it (sent) and as S3 reads it when it
// checks the signature (signed). CloudFront forwards the viewer's path, so a
// literal "+" reaches S3, which reads it as a space and checks the signature
// against that reading: a SignatureDoesNotMatch from S3 for a path with "+"
// shows its canonical request with "%20" there (nginx/nginx-s3-gateway#77).
// The runs between literal "+" are sent in SigV4's canonical encoding, as
// Origin Access Control would sign them.
func s3Paths(uri string) (sent, signed string, err error) {
	runs := strings.Split(uri, "+")
	for i, run := range runs {
		decoded, err := url.PathUnescape(run)
		if err != nil {
			return "", "", err
		}
		runs[i] = awsPathEscape(decoded)
	}
	return strings.Join(runs, "+"), strings.Join(runs, "%20"), nil
}

// edge runs the origin-response handler on the origin's response.
func (f *Front) edge(ctx context.Context, origin, uri string, viewer, originReq *http.Request, resp *http.Response) (edgerun.Response, error) {
	reqHeaders := edgerun.Headers{}
	host := originReq.Host
	if host == "" {
		host = originReq.URL.Host
	}
	reqHeaders.Add("host", "Host", host)
	for name, values := range originReq.Header {
		lower := strings.ToLower(name)
		if lower == "authorization" || strings.HasPrefix(lower, "x-amz-") || lower == "user-agent" {
			continue // the origin signature is not part of what the function sees; User-Agent is added below
		}
		for _, v := range values {
			reqHeaders.Add(lower, name, v)
		}
	}
	reqHeaders.Add("user-agent", "User-Agent", "Amazon CloudFront")

	respHeaders := edgerun.Headers{}
	for name, values := range resp.Header {
		lower := strings.ToLower(name)
		if lower == "connection" || lower == "keep-alive" || lower == "transfer-encoding" {
			continue
		}
		for _, v := range values {
			respHeaders.Add(lower, name, v)
		}
	}

	o := f.origin(f.dist.Load(), origin)
	requestID := randomID()
	ev := edgerun.Event{Records: []edgerun.Record{{CF: edgerun.CF{
		Config: edgerun.Config{
			DistributionDomainName: "d111111abcdef8.cloudfront.net",
			DistributionID:         "EDFDVBD6EXAMPLE",
			EventType:              "origin-response",
			RequestID:              requestID,
		},
		Request: edgerun.Request{
			ClientIP:    clientIP(viewer),
			Headers:     reqHeaders,
			Method:      viewer.Method,
			Origin:      o,
			QueryString: "", // the cache key is the path only, so no query reaches the origin
			URI:         uri,
		},
		Response: edgerun.Response{
			Headers:           respHeaders,
			Status:            strconv.Itoa(resp.StatusCode),
			StatusDescription: http.StatusText(resp.StatusCode),
		},
	}}}}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.EdgeTimeout)
	defer cancel()
	return f.cfg.Edge.Invoke(ctx, ev, edgerun.Context{
		FunctionName:       f.cfg.FunctionName,
		FunctionVersion:    "1",
		InvokedFunctionARN: edgerun.FunctionARN(f.cfg.FunctionName, 1),
		AWSRequestID:       requestID,
		MemoryLimitInMB:    128,
		TimeoutMs:          int(f.cfg.EdgeTimeout / time.Millisecond),
	})
}

func acceptsGzip(acceptEncoding string) bool {
	for _, part := range strings.Split(acceptEncoding, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		_, q, found := strings.Cut(strings.ReplaceAll(params, " ", ""), "q=")
		if !found {
			return true
		}
		weight, err := strconv.ParseFloat(q, 64)
		return err == nil && weight > 0
	}
	return false
}

// objectSize is the whole object's size: Content-Range's total on a 206,
// else Content-Length; -1 when neither says.
func objectSize(resp *http.Response) int64 {
	if cr := resp.Header.Get("Content-Range"); cr != "" {
		if _, total, ok := strings.Cut(cr, "/"); ok {
			if n, err := strconv.ParseInt(total, 10, 64); err == nil {
				return n
			}
		}
	}
	return resp.ContentLength
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	return hex.EncodeToString(b)
}

// awsPathEscape encodes a key the way SigV4 canonical URIs want it: every
// byte except unreserved characters and '/' as %XX.
func awsPathEscape(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
