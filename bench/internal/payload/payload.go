// Package payload generates the benchmark's object bytes deterministically, so the
// orchestrator (which seeds fake-gcs) and the ceiling PUT child (which uploads "the same
// bytes from memory") produce identical objects without passing a gigabyte between them.
package payload

import (
	"encoding/binary"
	"math/rand/v2"
)

// Fill writes the object of the given size into buf (len(buf) must equal size).
// PCG filling 8 bytes a step runs at over 1 GB/s here; ChaCha8 was ten times slower,
// which would have made seeding the 1 GiB object the slowest part of a run.
// The bytes are incompressible, so no hop can win by compressing them.
func Fill(buf []byte) {
	size := uint64(len(buf))
	gen := rand.NewPCG(size, 0x6261636b746f6f72) // seeded by size: each size is a distinct object
	i := 0
	for ; i+8 <= len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], gen.Uint64())
	}
	if i < len(buf) {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], gen.Uint64())
		copy(buf[i:], tail[:])
	}
}

// New returns a freshly generated object of the given size.
func New(size int64) []byte {
	buf := make([]byte, size)
	Fill(buf)
	return buf
}
