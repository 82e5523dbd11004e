package standin

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Bucket names of a [SyntheticPair].
const (
	SyntheticSource = "synthetic-source"
	SyntheticDest   = "synthetic-destination"
)

// SyntheticPair is a source bucket of Keys keys and a destination that
// holds the listing benchmark's mix of them (10% missing, 5% stale: another
// size, 1% extra keys), computed rather than stored: any page of either
// side is arithmetic on its position, so listing ten million keys costs the
// server no memory and no set-up, and memory tests and benchmarks can
// measure a lister at sizes no real stand-in is populated to.
//
// Key j (0 <= j < Keys) is "dd/jjjjjjjj.bin", dd the hex of j*256/Keys
// (256 directories, as hashed names spread), so key order is j's order. The
// destination leaves out j%10 == 0, holds j%20 == 1 one byte larger, and
// holds "dd/jjjjjjjj.extra", which sorts right after key j, for j%100 == 0.
type SyntheticPair struct{ Keys int }

// SyntheticObject is one listed key.
type SyntheticObject struct {
	Key  string
	Size int64
	ETag string // quoted, as S3 lists it
}

// SyntheticCounts is what a comparison of the pair must find.
type SyntheticCounts struct{ Source, Missing, Stale, Extra int }

// Counts returns the pair's differences.
func (p SyntheticPair) Counts() SyntheticCounts {
	multiples := func(m, r int) int { // j < Keys with j%m == r
		if p.Keys <= r {
			return 0
		}
		return (p.Keys-1-r)/m + 1
	}
	return SyntheticCounts{Source: p.Keys, Missing: multiples(10, 0), Stale: multiples(20, 1), Extra: multiples(100, 0)}
}

// Slots: 2j is key j's ".bin", 2j+1 its ".extra"; a slot's key grows with
// the slot, and each side holds some of the slots.
func (p SyntheticPair) slots() int { return 2 * p.Keys }

func (p SyntheticPair) key(slot int) string {
	j, ext := slot/2, "bin"
	if slot%2 == 1 {
		ext = "extra"
	}
	return fmt.Sprintf("%02x/%08d.%s", j*256/p.Keys, j, ext)
}

func (p SyntheticPair) object(bucket string, slot int, key string) (SyntheticObject, bool) {
	j, extra := slot/2, slot%2 == 1
	size := int64(100 + j%900)
	switch {
	case bucket == SyntheticSource && extra, bucket == SyntheticDest && !extra && j%10 == 0, bucket == SyntheticDest && extra && j%100 != 0:
		return SyntheticObject{}, false
	case extra:
		size = 10
	case bucket == SyntheticDest && j%20 == 1:
		size++
	}
	return SyntheticObject{Key: key, Size: size, ETag: fmt.Sprintf(`"%032x"`, uint64(slot)*0x9e3779b97f4a7c15)}, true
}

// first is the first slot whose key is greater than after and not less
// than from.
func (p SyntheticPair) first(from, after string) int {
	return sort.Search(p.slots(), func(s int) bool { k := p.key(s); return k > after && k >= from })
}

// List answers one ListObjectsV2 call on bucket: at most max keys and
// common prefixes (with delimiter) that start with prefix and sort after
// after, and whether more follow.
func (p SyntheticPair) List(bucket, prefix, delimiter, after string, max int) (objs []SyntheticObject, prefixes []string, truncated bool) {
	truncated = p.Walk(bucket, prefix, delimiter, after, max, func(o SyntheticObject) { objs = append(objs, o) }, func(cp string) { prefixes = append(prefixes, cp) })
	return objs, prefixes, truncated
}

// Walk is List one key or common prefix at a time, in key order.
func (p SyntheticPair) Walk(bucket, prefix, delimiter, after string, max int, key func(SyntheticObject), commonPrefix func(string)) (truncated bool) {
	if bucket != SyntheticSource && bucket != SyntheticDest || p.Keys <= 0 {
		return false
	}
	n := 0
	for s := p.first(prefix, after); s < p.slots(); {
		k := p.key(s)
		if !strings.HasPrefix(k, prefix) {
			break
		}
		o, ok := p.object(bucket, s, k)
		if !ok {
			s++
			continue
		}
		if i := strings.Index(k[len(prefix):], delimiter); delimiter != "" && i >= 0 {
			cp := k[:len(prefix)+i+len(delimiter)]
			next := sort.Search(p.slots(), func(s int) bool { k := p.key(s); return k > cp && !strings.HasPrefix(k, cp) })
			if cp <= after { // the page before ended with it
				s = next
				continue
			}
			if n == max {
				return true
			}
			commonPrefix(cp)
			n++
			s = next
			continue
		}
		if n == max {
			return true
		}
		key(o)
		n++
		s++
	}
	return false
}

// SyntheticS3 serves a [SyntheticPair] as S3's ListObjectsV2 (path style,
// list-type=2, prefix, delimiter, start-after, continuation-token,
// max-keys), with the elements versitygw sends for each key. It checks no
// signature and answers nothing but listings.
type SyntheticS3 struct {
	Endpoint string // http://127.0.0.1:PORT
	Pair     SyntheticPair
	srv      *httptest.Server
	// conns and requests count what the clients cost: a client that
	// keeps too few idle connections opens one per request.
	conns, requests atomic.Int64
}

// StartSyntheticS3 starts the listing server on a free 127.0.0.1 port.
func StartSyntheticS3(p SyntheticPair) *SyntheticS3 {
	s := &SyntheticS3{Pair: p}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	s.Endpoint = s.srv.URL
	return s
}

// Counts returns the connections opened and the requests answered so far.
func (s *SyntheticS3) Counts() (conns, requests int64) { return s.conns.Load(), s.requests.Load() }

// Close stops the server.
func (s *SyntheticS3) Close() { s.srv.Close() }

var syntheticModified = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339)

func (s *SyntheticS3) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	bucket := strings.Trim(r.URL.Path, "/")
	q := r.URL.Query()
	if r.Method != http.MethodGet || q.Get("list-type") != "2" || strings.Contains(bucket, "/") {
		http.Error(w, "the synthetic S3 answers ListObjectsV2 only", http.StatusNotImplemented)
		return
	}
	if bucket != SyntheticSource && bucket != SyntheticDest {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist.</Message><BucketName>%s</BucketName></Error>`, bucket)
		return
	}
	max := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "bad max-keys", http.StatusBadRequest)
			return
		}
		max = min(n, 1000)
	}
	after := q.Get("start-after")
	if t := q.Get("continuation-token"); t != "" {
		after = t // the token is the last key or prefix of the page before
	}
	// Written a piece at a time, the page's counts and token after its
	// keys (XML readers take ListBucketResult's elements in any order): a
	// page held whole would put a quarter of a megabyte per request in
	// flight in the server, beside the client under measurement when both
	// share a process.
	w.Header().Set("Content-Type", "application/xml")
	b := make([]byte, 0, 512)
	flush := func() { _, _ = w.Write(b); b = b[:0] }
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>`...)
	b = append(b, bucket...)
	b = append(b, "</Name>"...)
	n, last := 0, ""
	truncated := s.Pair.Walk(bucket, q.Get("prefix"), q.Get("delimiter"), after, max, func(o SyntheticObject) {
		b = append(b, "<Contents><LastModified>"...)
		b = append(b, syntheticModified...)
		b = append(b, "</LastModified><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><ETag>&#34;"...)
		b = append(b, o.ETag[1:len(o.ETag)-1]...)
		b = append(b, "&#34;</ETag><Key>"...)
		b = append(b, o.Key...) // keys are digits, hex, '/' and '.': nothing to escape
		b = append(b, "</Key><Size>"...)
		b = strconv.AppendInt(b, o.Size, 10)
		b = append(b, "</Size><StorageClass>STANDARD</StorageClass></Contents>"...)
		flush()
		n, last = n+1, o.Key
	}, func(cp string) {
		b = append(b, "<CommonPrefixes><Prefix>"...)
		b = append(b, cp...)
		b = append(b, "</Prefix></CommonPrefixes>"...)
		flush()
		n, last = n+1, cp
	})
	if truncated {
		b = append(b, "<NextContinuationToken>"...)
		b = append(b, last...)
		b = append(b, "</NextContinuationToken>"...)
	}
	b = append(b, "<KeyCount>"...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "</KeyCount><MaxKeys>"...)
	b = strconv.AppendInt(b, int64(max), 10)
	b = append(b, "</MaxKeys><IsTruncated>"...)
	b = strconv.AppendBool(b, truncated)
	b = append(b, "</IsTruncated>"...)
	b = append(b, "<EncodingType></EncodingType></ListBucketResult>"...)
	flush()
}
