package main

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"

	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// requestCounter counts requests by kind as they reach a stand-in.
type requestCounter struct {
	proxy.Counts
	kind func(*http.Request) string
}

func newRequestCounter(kind func(*http.Request) string) *requestCounter {
	return &requestCounter{kind: kind}
}

// wrap counts every request before h serves it.
func (c *requestCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Add(c.kind(r))
		h.ServeHTTP(w, r)
	})
}

// newCountingProxy relays to upstream and counts. The Host header is kept,
// so SigV4 signatures made for the proxy's address stay valid upstream.
func newCountingProxy(upstream string, c *requestCounter, conns int) (http.Handler, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("proxy upstream %q: %w", upstream, err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost, t.MaxIdleConns, t.DisableCompression = conns, 2*conns, true
	p.Transport = t
	return c.wrap(p), nil
}

// gcsKind names a request to the GCS stand-in: the XML API's object GETs
// and HEADs (ranged or whole) and the JSON API rclone uses.
func gcsKind(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.URL.Path, "/storage/v1/") && strings.HasSuffix(r.URL.Path, "/o"):
		return "GCS list"
	case strings.HasPrefix(r.URL.Path, "/storage/v1/"):
		return "GCS JSON " + r.Method
	case r.Method == http.MethodGet && r.Header.Get("Range") != "":
		return "GCS GET ranged"
	}
	return "GCS " + r.Method
}

// s3Kind names a request to the S3 stand-in by its S3 operation, with the
// bucket-level GETs told apart, since rclone lists objects and the engine
// lists uploads.
func s3Kind(r *http.Request) string { return "S3 " + proxy.S3Operation(r) }

// perObject renders counts divided by the object count, largest first.
func perObject(counts map[string]int, objects int) (total float64, detail string) {
	kinds := slices.Collect(maps.Keys(counts))
	slices.SortFunc(kinds, func(a, b string) int { return counts[b] - counts[a] })
	var parts []string
	for _, k := range kinds {
		v := float64(counts[k]) / float64(objects)
		total += v
		parts = append(parts, fmt.Sprintf("%s %.3f", k, v))
	}
	return total, strings.Join(parts, ", ")
}
