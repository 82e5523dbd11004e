package transfer

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestCRC32CCombineMatchesWholeChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<16)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, split := range []int{0, 1, 7, 4096, 33333, len(data) - 1, len(data)} {
		a, b := data[:split], data[split:]
		got := crc32cCombine(crc32.Checksum(a, castagnoli), crc32.Checksum(b, castagnoli), int64(len(b)))
		if want := crc32.Checksum(data, castagnoli); got != want {
			t.Errorf("split at %d: combined %08x, want %08x", split, got, want)
		}
	}
}

func TestCRC32CEncodingRoundTrips(t *testing.T) {
	c := crc32.Checksum([]byte("hello"), castagnoli)
	got, err := decodeCRC32C(encodeCRC32C(c))
	if err != nil || got != c {
		t.Fatalf("round trip: %08x %v, want %08x", got, err, c)
	}
	if _, err := decodeCRC32C("AAAA"); err == nil {
		t.Fatal("3-byte checksum accepted")
	}
}
