package transfer

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// castagnoli is the CRC32C table; hash/crc32 uses the SSE4.2/ARMv8 CRC
// instructions for it, so checksumming costs little next to the copy.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32cPoly is the reflected Castagnoli polynomial.
const crc32cPoly = 0x82f63b78

// crc32cCombine returns the CRC32C of A||B given crc(A), crc(B) and len(B).
//
// Parts are checksummed independently (concurrently, and some in earlier
// invocations whose CRCs come back from ListParts), yet GCS publishes one
// CRC32C for the whole object. This is zlib's crc32_combine64 (1.2.12+, the
// x^(2^n) mod p variant) ported to Go: neither the standard library nor a
// maintained Go module exports a CRC combine.
func crc32cCombine(crcA, crcB uint32, lenB int64) uint32 {
	return multModP(x2nModP(lenB, 3), crcA) ^ crcB
}

// multModP multiplies a and b modulo the CRC polynomial (reflected bits).
func multModP(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; ; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				return p
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ crc32cPoly
		} else {
			b >>= 1
		}
	}
}

// x2nTable[k] is x^(2^k) modulo the polynomial.
var x2nTable = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	t[0] = p
	for k := 1; k < 32; k++ {
		p = multModP(p, p)
		t[k] = p
	}
	return t
}()

// x2nModP returns x^(n * 2^k) modulo the polynomial.
func x2nModP(n int64, k uint) uint32 {
	p := uint32(1) << 31 // x^0
	for ; n != 0; n >>= 1 {
		if n&1 != 0 {
			p = multModP(x2nTable[k&31], p)
		}
		k++
	}
	return p
}

// encodeCRC32C renders a CRC the way both GCS (x-goog-hash) and S3
// (x-amz-checksum-crc32c) do: base64 of the 4 big-endian bytes.
func encodeCRC32C(c uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], c)
	return base64.StdEncoding.EncodeToString(b[:])
}

func decodeCRC32C(s string) (uint32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 4 {
		return 0, fmt.Errorf("malformed CRC32C %q", s)
	}
	return binary.BigEndian.Uint32(b), nil
}

// ErrChecksumMismatch: the bytes read do not match the source's CRC32C
// or size. Nothing was written.
var ErrChecksumMismatch = errors.New("checksum mismatch")

func verifyWhole(key string, obj SourceObject, got uint32, n int64) error {
	if n != obj.Size {
		return fmt.Errorf("copy %q: read %d bytes, source says %d: %w", key, n, obj.Size, ErrChecksumMismatch)
	}
	if obj.CRC32C != nil && *obj.CRC32C != got {
		return fmt.Errorf("copy %q: CRC32C %s, source says %s: %w", key, encodeCRC32C(got), encodeCRC32C(*obj.CRC32C), ErrChecksumMismatch)
	}
	return nil
}
