package main

import "testing"

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
