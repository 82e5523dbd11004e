package main

import (
	"os"
	"runtime/debug"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
)

// liveBytesPerKey is what a listing holds at most for each key of a page
// in flight, both sides together: the page being consumed, and the next
// one while it is decoded (the SDK's and the XML decoder's structures
// beside the listed objects). Measured: 11-16 MiB live at 16 ranges of
// 1,000-key pages, whatever the bucket's size (bench/README.md, memory at
// scale).
const liveBytesPerKey = 1 << 10

// listingMemoryLimit is the soft memory limit of a command that lists:
// what its ranges hold in flight, half as much again for the garbage of
// the pages being decoded, and 8 MiB for the rest of the runtime. 32 MiB
// at the defaults.
func listingMemoryLimit(ranges, pageSize int) int64 {
	ranges = max(ranges, 1)
	if pageSize <= 0 || pageSize > migrate.DefaultPageSize {
		pageSize = migrate.DefaultPageSize // what S3 and GCS send at most
	}
	return 8<<20 + int64(ranges)*int64(pageSize)*liveBytesPerKey*3/2
}

// limitListingMemory sets listingMemoryLimit as the Go runtime's soft
// memory limit, unless GOMEMLIMIT is set (GOMEMLIMIT=off: none).
//
// Nothing in a listing grows with the bucket, but the GC's default pacing
// lets the heap grow to twice what it found live before it collects, and
// what is live swings with how many pages are being decoded at that
// instant; the peak RSS is the largest of those swings, which a longer
// listing meets more of (44-45 MiB at 100k keys, 50-51 MiB at 10M). The
// limit caps the swings instead: the GC collects earlier when the heap
// nears it, which at this size costs no measurable CPU (39-40 MiB from
// 100k to 10M keys). It is soft: a working set above it makes the GC work
// harder (at most half the CPU, the runtime's own cap), never fails an
// allocation.
func limitListingMemory(ranges, pageSize int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(listingMemoryLimit(ranges, pageSize))
}
