package main

import "testing"

func TestLiveHeapReadsTheLargestMarkedHeapOfAGCTrace(t *testing.T) {
	trace := "listing...\n" +
		"gc 1 @0.010s 2%: 0.015+1.2+0.003 ms clock, 0.030+0.5/1.0/0.2+0.006 ms cpu, 4->4->3 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"gc 2 @0.020s 3%: 0.10+0.10+0.001 ms clock, 0.20+0/0.019/0.10+0.003 ms cpu, 30->31->17 MB, 34 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"gc 3 @0.030s 3% (forced): 0.10+0.10+0.001 ms clock, 0.20+0/0.019/0.10+0.003 ms cpu, 20->20->12 MB, 34 MB goal, 0 MB stacks, 0 MB globals, 2 P\n"
	if live, gcs := liveHeap(trace); live != 17 || gcs != 3 {
		t.Fatalf("live %v MiB over %d GCs, want 17 over 3", live, gcs)
	}
}

func TestParseSizes(t *testing.T) {
	if got, err := parseSizes("10000, 1000000,"); err != nil || len(got) != 2 || got[1] != 1_000_000 {
		t.Fatalf("%v, %v", got, err)
	}
	if got, err := parseSizes(""); err != nil || got != nil {
		t.Fatalf("empty: %v, %v", got, err)
	}
	if _, err := parseSizes("1e6"); err == nil {
		t.Fatal("1e6 accepted")
	}
}
