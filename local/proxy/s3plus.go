package proxy

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// S3PlusAsSpace is a reverse proxy in front of the S3 stand-in that reads a
// literal "+" in a request path as a space, imitating S3: its REST API takes
// "/a+b" for the key "a b" (the key "a+b" must be sent as "/a%2Bb";
// reported in aws/aws-sdk-ruby#654 and imgix/js-core#88, and behind
// CloudFront too). versitygw takes "+" literally, so without this no local
// test could see the difference. The path is decoded that way and forwarded
// with "%20" in place of each "+". S3 checks the signature against that
// reading as well (see local/front's s3Paths), so a request signed as S3
// expects stays valid here. SDK requests never carry a literal "+" (SDKs
// escape it) and pass unchanged. Host is kept as the client sent it.
type S3PlusAsSpace struct {
	proxy *httputil.ReverseProxy
}

// NewS3PlusAsSpace forwards to target.
func NewS3PlusAsSpace(target *url.URL) *S3PlusAsSpace {
	p := httputil.NewSingleHostReverseProxy(target)
	// Bytes as they come: Go's transport would otherwise ask for gzip and
	// decompress a gzip-stored object on the way.
	p.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true}
	p.ModifyResponse = dropAWSChunked
	return &S3PlusAsSpace{proxy: p}
}

// dropAWSChunked imitates S3 in one more way: the aws-chunked coding of a
// streaming upload (the engine's checksum trailer) is not stored with the
// object, so S3 never returns it (ceph/ceph#65219 quotes S3's docs on it);
// versitygw v1.8.0 stores and returns it as the object's Content-Encoding.
func dropAWSChunked(resp *http.Response) error {
	v := resp.Header.Values("Content-Encoding")
	if len(v) == 0 {
		return nil
	}
	var kept []string
	for _, coding := range strings.Split(strings.Join(v, ","), ",") {
		if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "aws-chunked") {
			kept = append(kept, c)
		}
	}
	resp.Header.Del("Content-Encoding")
	if len(kept) > 0 {
		resp.Header.Set("Content-Encoding", strings.Join(kept, ","))
	}
	return nil
}

func (s *S3PlusAsSpace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if raw := r.URL.EscapedPath(); strings.Contains(raw, "+") {
		spaced := strings.ReplaceAll(raw, "+", "%20")
		path, err := url.PathUnescape(spaced)
		if err != nil {
			http.Error(w, "bad path", http.StatusBadRequest)
			return
		}
		r = r.Clone(r.Context())
		r.URL.Path, r.URL.RawPath = path, spaced
	}
	s.proxy.ServeHTTP(w, r)
}
