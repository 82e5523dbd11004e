package main

import (
	"slices"
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
