package soak

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backtoorigin/backtoorigin/local/front"
)

// answer is what one viewer request got, kept to be judged at the end
// (when the version S3 holds is known).
type answer struct {
	obj         *object
	method      string
	from, to    int64 // range, inclusive; from < 0: no Range header
	acceptGzip  bool
	start, end  time.Time
	err         error
	status      int
	origin      string
	length      int64 // body bytes
	sha         [32]byte
	contentLen  string
	contentRng  string
	finalPass   bool // asked after the run settled: must be S3's version
	description string
}

func (a *answer) String() string {
	rng := ""
	if a.from >= 0 {
		rng = fmt.Sprintf(" Range bytes=%d-%d", a.from, a.to)
	}
	gz := ""
	if a.acceptGzip {
		gz = " Accept-Encoding: gzip"
	}
	return fmt.Sprintf("%s %q%s%s -> %d from %s, %d bytes (%s .. %s)", a.method, a.obj.key, rng, gz, a.status, a.origin, a.length,
		a.start.Format("15:04:05.000"), a.end.Format("15:04:05.000"))
}

// viewer is one concurrent viewer with its own seeded choices.
type viewer struct {
	rng    *rand.Rand
	client *http.Client
	front  string
}

// escape percent-encodes a key the way a browser sends it in a path,
// except that "+" stays literal half of the time (browsers send it so).
func escape(key string, literalPlus bool) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
		if !literalPlus {
			parts[i] = strings.ReplaceAll(parts[i], "+", "%2B")
		}
	}
	return "/" + strings.Join(parts, "/")
}

// request chooses and makes one request for o.
func (v *viewer) request(ctx context.Context, o *object) *answer {
	first := o.snapshot()[0]
	a := &answer{obj: o, method: http.MethodGet, from: -1}
	roll := v.rng.IntN(100)
	switch o.kind {
	case kindEmpty:
		if roll < 40 {
			a.method = http.MethodHead
		}
	case kindGzip:
		a.acceptGzip = roll < 70
		if roll < 25 {
			a.method = http.MethodHead
		}
	case kindBig:
		if roll < 40 {
			a.method = http.MethodHead
		} else {
			a.from = v.rng.Int64N(first.size)
			a.to = min(first.size-1, a.from+v.rng.Int64N(mib))
		}
	default:
		switch {
		case roll < 25:
			a.method = http.MethodHead
		case roll < 60 && first.size > 1:
			a.from = v.rng.Int64N(first.size)
			a.to = min(first.size-1, a.from+v.rng.Int64N(2*mib))
		}
		// medium objects are read whole now and then: most viewers of video seek
		if o.kind == kindMultipart && a.method == http.MethodGet && a.from < 0 && roll%3 != 0 {
			a.from, a.to = 0, min(first.size-1, mib-1)
		}
	}
	v.do(ctx, a, v.rng.IntN(2) == 0)
	return a
}

func (v *viewer) do(ctx context.Context, a *answer, literalPlus bool) {
	a.start = time.Now()
	defer func() { a.end = time.Now() }()
	req, err := http.NewRequestWithContext(ctx, a.method, v.front+escape(a.obj.key, literalPlus), nil)
	if err != nil {
		a.err = err
		return
	}
	if a.from >= 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", a.from, a.to))
	}
	if a.acceptGzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := v.client.Do(req)
	if err != nil {
		a.err = err
		return
	}
	defer resp.Body.Close()
	a.status, a.origin = resp.StatusCode, resp.Header.Get(front.OriginHeader)
	a.contentLen, a.contentRng = resp.Header.Get("Content-Length"), resp.Header.Get("Content-Range")
	h := sha256.New()
	a.length, a.err = io.Copy(h, resp.Body)
	copy(a.sha[:], h.Sum(nil))
}

// judge says what is wrong with an answer ("" when it is right).
//
// A viewer's answer is right when it is exactly what some version of the
// object gives for that request, where the version is either one that was
// current at the source at some instant between the request's start and
// its end (a request racing an overwrite may get the old or the new
// version), or, for an answer from S3, the version S3 holds (S3 is never
// overwritten, so it may go on serving the version it copied after the
// source changed). "Exactly" is: the status (200, or 206 for a Range, HEAD
// 200 with no body), every byte, Content-Length of a HEAD, and
// Content-Range of a 206. A gzip-stored object asked for without
// Accept-Encoding: gzip comes decompressed from GCS (its transcoding) and
// as stored from S3. The final pass, asked after the run settled, must be
// answered by S3 with S3's version.
func judge(a *answer, inS3 *version) string {
	if a.err != nil {
		return "request failed: " + a.err.Error()
	}
	var candidates []*version
	switch {
	case a.finalPass:
		if a.origin != "s3" || inS3 == nil {
			return "after the run it was not served from S3"
		}
		candidates = []*version{inS3}
	case a.origin == "s3":
		if inS3 == nil {
			return "served from S3, but S3 does not hold the object"
		}
		candidates = []*version{inS3}
	case a.origin == "gcs":
		for _, v := range a.obj.snapshot() {
			if !v.putStart.After(a.end) && (v.replaced.IsZero() || !v.replaced.Before(a.start)) {
				candidates = append(candidates, v)
			}
		}
	default:
		return fmt.Sprintf("answered by origin %q", a.origin)
	}
	var reasons []string
	for _, v := range candidates {
		why := expect(a, v)
		if why == "" {
			return ""
		}
		reasons = append(reasons, fmt.Sprintf("version %d (generation %s): %s", v.index, v.generation, why))
	}
	if len(reasons) == 0 {
		return "no version was current during the request"
	}
	return strings.Join(reasons, "; ")
}

func expect(a *answer, v *version) string {
	switch {
	case a.method == http.MethodHead:
		if a.status != 200 || a.length != 0 {
			return fmt.Sprintf("HEAD: status %d with %d body bytes, want 200 and none", a.status, a.length)
		}
		if a.contentLen != strconv.FormatInt(v.size, 10) {
			return fmt.Sprintf("HEAD: Content-Length %q, want %d", a.contentLen, v.size)
		}
		return ""
	case a.from >= 0:
		if a.status != 206 {
			return fmt.Sprintf("status %d, want 206", a.status)
		}
		if want := fmt.Sprintf("bytes %d-%d/%d", a.from, a.to, v.size); a.contentRng != want {
			return fmt.Sprintf("Content-Range %q, want %q", a.contentRng, want)
		}
		if sha256.Sum256(v.slice(a.from, a.to)) != a.sha {
			return fmt.Sprintf("the %d bytes differ from the source's", a.length)
		}
		return ""
	default:
		if a.status != 200 {
			return fmt.Sprintf("status %d, want 200", a.status)
		}
		want := v.sha
		if v.contentEncoding == "gzip" && !a.acceptGzip && a.origin == "gcs" {
			want = v.plainSHA
		}
		if !bytes.Equal(want[:], a.sha[:]) {
			return fmt.Sprintf("the %d bytes differ from the source's %d", a.length, v.size)
		}
		return ""
	}
}

// answers collects the viewers' answers.
type answers struct {
	mu  sync.Mutex
	all []*answer
}

func (as *answers) add(a *answer) {
	as.mu.Lock()
	as.all = append(as.all, a)
	as.mu.Unlock()
}
