package payload

import (
	"bytes"
	"testing"
)

func TestNewIsDeterministicPerSize(t *testing.T) {
	// The orchestrator seeds fake-gcs and the ceiling child uploads with two separate
	// calls; the copy check only holds if they produce the same bytes.
	a, b := New(1<<20+3), New(1<<20+3)
	if !bytes.Equal(a, b) {
		t.Fatal("two objects of one size differ")
	}
	if c := New(1<<20 + 4); bytes.Equal(a, c[:len(a)]) {
		t.Fatal("objects of different sizes share their bytes; each size should be its own object")
	}
	if bytes.Equal(a[:4096], make([]byte, 4096)) {
		t.Fatal("object starts with zeros")
	}
}
