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

func TestRcloneFlagsUseKiBSuffix(t *testing.T) {
	// rclone reads a bare number as KiB and "M" as MiB; a wrong suffix would silently
	// give rclone another part size than the engine.
	flags := rcloneFlags(config{partSize: 16 << 20, concurrency: 8})
	want := []string{"--s3-chunk-size", "16384k", "--s3-upload-cutoff", "16384k", "--s3-upload-concurrency", "8", "--s3-no-check-bucket"}
	if len(flags) != len(want) {
		t.Fatalf("rcloneFlags = %q, want %q", flags, want)
	}
	for i := range want {
		if flags[i] != want[i] {
			t.Fatalf("rcloneFlags = %q, want %q", flags, want)
		}
	}
}
