package proxy

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// S3Write is one object-writing call seen by an S3Counter.
type S3Write struct {
	Op       string // "PutObject" or "CompleteMultipartUpload"
	Key      string
	UploadID string // CompleteMultipartUpload's upload
	Status   int
	At       time.Time // when the stand-in answered
}

// S3Counter is a reverse proxy in front of the S3 stand-in (path-style) that
// records PutObject and CompleteMultipartUpload calls: the calls that make an
// object appear, so a test can prove a key was written exactly once. Host is
// kept as the client sent it, so SigV4 signatures stay valid.
type S3Counter struct {
	proxy  *httputil.ReverseProxy
	bucket string
	mu     sync.Mutex
	writes []S3Write
}

// NewS3Counter forwards to target, recording writes into bucket.
func NewS3Counter(target *url.URL, bucket string) *S3Counter {
	c := &S3Counter{proxy: httputil.NewSingleHostReverseProxy(target), bucket: bucket}
	c.proxy.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}
	return c
}

func (c *S3Counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := writeOp(r)
	if op == "" {
		c.proxy.ServeHTTP(w, r)
		return
	}
	rec := NewStatusRecorder(w)
	c.proxy.ServeHTTP(rec, r)
	key, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/"+c.bucket+"/"))
	c.mu.Lock()
	c.writes = append(c.writes, S3Write{Op: op, Key: key, UploadID: r.URL.Query().Get("uploadId"), Status: rec.Status, At: time.Now()})
	c.mu.Unlock()
}

func writeOp(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && !q.Has("partNumber") && !q.Has("uploadId") && r.Header.Get("X-Amz-Copy-Source") == "":
		if strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
			return "" // CreateBucket
		}
		return "PutObject"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	}
	return ""
}

// Writes returns the calls seen for key.
func (c *S3Counter) Writes(key string) []S3Write {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []S3Write
	for _, w := range c.writes {
		if w.Key == key {
			out = append(out, w)
		}
	}
	return out
}

// Successful counts the calls for key that the stand-in accepted (2xx): the
// number of times the object was actually written.
func (c *S3Counter) Successful(key string) int {
	n := 0
	for _, w := range c.Writes(key) {
		if w.Status >= 200 && w.Status < 300 {
			n++
		}
	}
	return n
}

// StatusRecorder passes a response through and remembers its status code.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// NewStatusRecorder wraps w; a handler that never calls WriteHeader answered 200.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w, Status: http.StatusOK}
}

func (s *StatusRecorder) WriteHeader(code int) {
	s.Status = code
	s.ResponseWriter.WriteHeader(code)
}
