package soak

import (
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestGeneratedContentReadsTheSameAtAnyOffset(t *testing.T) {
	v := &version{size: 3*genBlock + 123, seed: [32]byte{7}}
	whole, err := io.ReadAll(v.reader())
	if err != nil || int64(len(whole)) != v.size {
		t.Fatalf("read %d bytes (%v), want %d", len(whole), err, v.size)
	}
	for _, r := range [][2]int64{{0, 0}, {genBlock - 1, genBlock + 1}, {5, 3 * genBlock}, {v.size - 10, v.size - 1}} {
		if got := v.slice(r[0], r[1]); string(got) != string(whole[r[0]:r[1]+1]) {
			t.Errorf("slice %d-%d differs from the whole read", r[0], r[1])
		}
	}
}

// The definition of a right viewer answer, case by case.
func TestJudge(t *testing.T) {
	t0 := time.Now()
	old := &version{index: 0, generation: "1", size: 10, held: []byte("0123456789"), putStart: t0, replaced: t0.Add(10 * time.Second)}
	old.sha = sha256.Sum256(old.held)
	next := &version{index: 1, generation: "2", size: 12, held: []byte("abcdefghijkl"), putStart: t0.Add(9 * time.Second)}
	next.sha = sha256.Sum256(next.held)
	o := &object{key: "k", versions: []*version{old, next}}
	get := func(origin string, body string, from, to time.Duration) *answer {
		return &answer{obj: o, method: http.MethodGet, from: -1, status: 200, origin: origin, length: int64(len(body)),
			sha: sha256.Sum256([]byte(body)), start: t0.Add(from), end: t0.Add(to)}
	}
	cases := []struct {
		name  string
		a     *answer
		inS3  *version
		wrong bool
	}{
		{"the old version before the overwrite", get("gcs", "0123456789", time.Second, 2*time.Second), nil, false},
		{"the new version before it was written", get("gcs", "abcdefghijkl", time.Second, 2*time.Second), nil, true},
		{"either version while the overwrite ran", get("gcs", "abcdefghijkl", 9500*time.Millisecond, 11*time.Second), nil, false},
		{"the old one, long after", get("gcs", "0123456789", 20*time.Second, 21*time.Second), nil, true},
		{"S3's copy of the old one, long after", get("s3", "0123456789", 20*time.Second, 21*time.Second), old, false},
		{"from S3 while S3 does not hold it", get("s3", "0123456789", time.Second, 2*time.Second), nil, true},
		{"bytes of no version", get("gcs", "0123456780", time.Second, 2*time.Second), nil, true},
		{"a wrong status", &answer{obj: o, method: http.MethodGet, from: -1, status: 500, origin: "gcs", start: t0, end: t0}, nil, true},
		{"a range", &answer{obj: o, method: http.MethodGet, from: 2, to: 4, status: 206, origin: "gcs", contentRng: "bytes 2-4/10",
			sha: sha256.Sum256([]byte("234")), start: t0, end: t0}, nil, false},
		{"a range with a wrong Content-Range", &answer{obj: o, method: http.MethodGet, from: 2, to: 4, status: 206, origin: "gcs", contentRng: "bytes 2-4/12",
			sha: sha256.Sum256([]byte("234")), start: t0, end: t0}, nil, true},
		{"a HEAD", &answer{obj: o, method: http.MethodHead, from: -1, status: 200, origin: "s3", contentLen: "10", start: t0, end: t0}, old, false},
		{"the final pass from GCS", func() *answer {
			a := get("gcs", "0123456789", time.Second, 2*time.Second)
			a.finalPass = true
			return a
		}(), old, true},
	}
	for _, c := range cases {
		why := judge(c.a, c.inS3)
		if (why != "") != c.wrong {
			t.Errorf("%s: judged %q, want wrong=%v", c.name, why, c.wrong)
		}
	}
	if why := judge(get("gcs", "x", time.Second, 2*time.Second), nil); !strings.Contains(why, "version 0") {
		t.Errorf("a wrong answer names the versions it was compared with: %q", why)
	}
}
