package main

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{"16MiB": 16 << 20, "1GiB": 1 << 30, "5KiB": 5 << 10, "7B": 7}
	for in, want := range good {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "16", "16MB", "0MiB", "-1MiB", "1.5GiB", "16 MiB", "x16MiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestRcloneFlagsMatchTheEngine(t *testing.T) {
	// rclone reads a bare number as KiB and goes multipart at size >= cutoff; a wrong
	// suffix or cutoff would silently give rclone other parts than the engine.
	flags := rcloneFlags(config{partSize: 16 << 20, concurrency: 8})
	want := []string{"--s3-chunk-size", "16384k", "--s3-upload-cutoff", "16385k", "--s3-upload-concurrency", "8", "--s3-no-check-bucket"}
	if len(flags) != len(want) {
		t.Fatalf("rcloneFlags = %q, want %q", flags, want)
	}
	for i := range want {
		if flags[i] != want[i] {
			t.Fatalf("rcloneFlags = %q, want %q", flags, want)
		}
	}
}

func TestEtagParts(t *testing.T) {
	cases := map[string]int64{`"9b2cf535f27731c974343645a3985328"`: 0, `"9b2cf535f27731c974343645a3985328-64"`: 64, `"abc-x"`: -1}
	for etag, want := range cases {
		if got := etagParts(etag); got != want {
			t.Errorf("etagParts(%s) = %d, want %d", etag, got, want)
		}
	}
}

func TestRoundOrder(t *testing.T) {
	// Every round runs each contender once, starting one further along each time, so
	// no contender always runs in the same slot of a round.
	cs := []string{"engine", "rclone", "ceiling"}
	want := [][]string{
		{"engine", "rclone", "ceiling"},
		{"rclone", "ceiling", "engine"},
		{"ceiling", "engine", "rclone"},
		{"engine", "rclone", "ceiling"},
	}
	for r, w := range want {
		if got := roundOrder(cs, r); !slices.Equal(got, w) {
			t.Errorf("roundOrder(%q, %d) = %q, want %q", cs, r, got, w)
		}
	}
	if !slices.Equal(cs, []string{"engine", "rclone", "ceiling"}) {
		t.Errorf("roundOrder changed its argument: %q", cs)
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields; utime and stime are
	// fields 14 and 15, in USER_HZ ticks.
	stat := "4242 (mi nio) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 123 456 0 0 20 0 12 0 99 0 0"
	got, err := parseProcStat(stat)
	if err != nil || got != (cpuTimes{User: 1.23, Sys: 4.56}) {
		t.Fatalf("parseProcStat = %+v, %v; want user 1.23, sys 4.56", got, err)
	}
	for _, bad := range []string{"", "4242 (minio) S 1 2 3", "4242 (minio) S 1 4242 4242 0 -1 0 0 0 0 0 x 456"} {
		if got, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestSmallRoundOrderKeepsThePairTogether(t *testing.T) {
	// The ceiling goal's ratio is taken within a round: the engine and the
	// ceiling must run back to back in every round, each first in half of them.
	first := map[string]int{}
	for r := range 8 {
		order := smallRoundOrder(r)
		if len(order) != 3 || !slices.Contains(order, "rclone") {
			t.Fatalf("round %d: %q, want every contender once", r, order)
		}
		e, c := slices.Index(order, "engine"), slices.Index(order, "ceiling")
		if e < 0 || c < 0 || e-c != 1 && c-e != 1 {
			t.Fatalf("round %d: %q: engine and ceiling not back to back", r, order)
		}
		first[order[min(e, c)]]++
	}
	if first["engine"] != first["ceiling"] {
		t.Errorf("engine first in %d rounds, ceiling in %d: want half each", first["engine"], first["ceiling"])
	}
}

func TestSmallSizesFollowTheMix(t *testing.T) {
	sizes := smallSizes(2000, 15)
	if !slices.Equal(sizes, smallSizes(2000, 15)) {
		t.Fatal("the same seed gave another set")
	}
	counts := make([]int, len(smallMix))
	for _, s := range sizes {
		for i, b := range smallMix {
			if s > b.lo && s <= b.hi {
				counts[i]++
			}
		}
	}
	for i, b := range smallMix {
		if share := float64(counts[i]) / float64(len(sizes)); share < b.share-0.04 || share > b.share+0.04 {
			t.Errorf("band %d-%d: %.3f of the objects, want about %.2f", b.lo, b.hi, share, b.share)
		}
	}
	if sum := counts[0] + counts[1] + counts[2] + counts[3]; sum != len(sizes) {
		t.Errorf("%d of %d sizes fall in a band", sum, len(sizes))
	}
}

// The names the small-objects report gives the requests each copier sends
// to S3 (path-style, the bucket known to exist).
func TestS3KindNamesTheCopiersRequests(t *testing.T) {
	for target, want := range map[string]string{
		"HEAD /dst/k":                             "S3 HeadObject",
		"GET /dst/k":                              "S3 GetObject",
		"PUT /dst/k":                              "S3 PutObject",
		"GET /dst?uploads&prefix=k":               "S3 ListMultipartUploads",
		"GET /dst/?list-type=2&prefix=":           "S3 ListObjects",
		"GET /dst?delimiter=&max-keys=1000":       "S3 ListObjects",
		"POST /dst/k?uploads":                     "S3 CreateMultipartUpload",
		"PUT /dst/k?partNumber=2&uploadId=u":      "S3 UploadPart",
		"GET /dst/k?uploadId=u":                   "S3 ListParts",
		"POST /dst/k?uploadId=u":                  "S3 CompleteMultipartUpload",
		"DELETE /dst/k?uploadId=u":                "S3 AbortMultipartUpload",
		"GET /dst/deep/key/with/slashes?x-id=Get": "S3 GetObject",
	} {
		method, path, _ := strings.Cut(target, " ")
		if got := s3Kind(httptest.NewRequest(method, path, nil)); got != want {
			t.Errorf("%s: %s, want %s", target, got, want)
		}
	}
}
