package soak

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/local/harness"
)

const mib = 1 << 20

// twoAtATime calls fn on every object, in order, two objects at a time.
func twoAtATime(objects []*object, fn func(*object)) {
	var wg sync.WaitGroup
	work := make(chan *object)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				fn(o)
			}
		}()
	}
	for _, o := range objects {
		work <- o
	}
	close(work)
	wg.Wait()
}

// Object kinds: they decide the viewers' requests and the copy path.
const (
	kindEmpty     = "empty"
	kindSmall     = "small"     // one PutObject
	kindGzip      = "gzip"      // stored gzip, Content-Encoding: gzip
	kindMultipart = "multipart" // a few parts
	kindBig       = "big"       // 100+ MiB, many parts, likely suspended
)

// object is one source key and every version it had during the run.
type object struct {
	key  string
	kind string
	// overwrite: the source object is replaced while the transfer function
	// reads it (once, during the fault phase).
	overwrite bool

	mu       sync.Mutex
	versions []*version
}

// version is one generation of an object at the source. Its content is
// either held (small objects) or regenerated from its seed on demand.
type version struct {
	index           int
	generation      string
	size            int64
	sha             [32]byte
	plainSHA        [32]byte // gzip objects: the decompressed bytes, as GCS transcodes them
	held            []byte
	seed            [32]byte
	contentType     string
	cacheControl    string
	contentEncoding string
	metadata        map[string]string
	// current from putStart (the put began) to replaced (the overwrite
	// finished; zero while current): an interval a viewer's request must
	// overlap for the version to be a right answer.
	putStart, replaced time.Time
}

func (o *object) snapshot() []*version {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*version(nil), o.versions...)
}

func (o *object) byGeneration(gen string) *version {
	for _, v := range o.snapshot() {
		if v.generation == gen {
			return v
		}
	}
	return nil
}

// oddNames go into keys: spaces, "+", "%", unicode and other characters
// that take a different spelling in a URL, in S3's path and in GCS's.
var oddNames = []string{
	"plain", "a b", "plus+sign", "c++", "100%", "ü日本", "tilde~x", "(paren)", "emoji😀", "eq=amp&", "sp ace+plus",
}

// plan builds the object set from the seed.
func plan(rng *rand.Rand, cfg Config) []*object {
	var objs []*object
	add := func(kind string, n int) {
		for i := 0; i < n; i++ {
			name := oddNames[rng.IntN(len(oddNames))]
			key := fmt.Sprintf("%s/%s-%03d%s", kind, name, len(objs), map[string]string{
				kindEmpty: ".txt", kindSmall: ".bin", kindGzip: ".css", kindMultipart: ".mp4", kindBig: ".iso",
			}[kind])
			objs = append(objs, &object{key: key, kind: kind})
		}
	}
	small := cfg.Objects - cfg.Big - cfg.Multipart - cfg.Gzip - 2
	if small < 0 {
		small = 0
	}
	add(kindBig, cfg.Big)
	add(kindMultipart, cfg.Multipart)
	add(kindGzip, cfg.Gzip)
	add(kindEmpty, 2)
	add(kindSmall, small)
	// A few are overwritten mid-copy: multipart ones (the overwrite lands
	// between parts) and small ones (between HEAD and GET).
	wantMultipart := (cfg.Overwrites + 1) / 2
	wantSmall := cfg.Overwrites - wantMultipart
	for _, i := range rng.Perm(len(objs)) {
		o := objs[i]
		switch {
		case o.kind == kindMultipart && wantMultipart > 0:
			wantMultipart--
		case o.kind == kindSmall && wantSmall > 0:
			wantSmall--
		default:
			continue
		}
		o.overwrite = true
	}
	return objs
}

// newVersion draws version index i of o.
func newVersion(rng *rand.Rand, cfg Config, o *object, i int, prev *version) *version {
	v := &version{index: i, metadata: map[string]string{"soak-version": strconv.Itoa(i)}}
	for j := range v.seed {
		v.seed[j] = byte(rng.Uint32())
	}
	switch o.kind {
	case kindEmpty:
		v.contentType = "text/plain"
	case kindSmall:
		// log-uniform from 1 B to 6 MiB: most tiny, some near the part size
		v.size = int64(1) << rng.IntN(23)
		v.size += rng.Int64N(v.size)
		v.contentType = "application/octet-stream"
	case kindGzip:
		var text strings.Builder
		lines := 10 + rng.IntN(20000)
		for l := 0; l < lines; l++ {
			fmt.Fprintf(&text, ".c%d { margin: %dpx; color: #%06x }\n", l, rng.IntN(50), rng.IntN(1<<24))
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte(text.String()))
		_ = zw.Close()
		v.held = buf.Bytes()
		v.size = int64(len(v.held))
		v.plainSHA = sha256.Sum256([]byte(text.String()))
		v.contentType, v.contentEncoding = "text/css", "gzip"
	case kindMultipart:
		v.size = int64(cfg.PartSizeMiB+1)*mib + rng.Int64N(32*mib)
		v.contentType = "video/mp4"
	case kindBig:
		v.size = 100*mib + rng.Int64N(int64(cfg.BigMaxMiB-100)*mib+1)
		v.contentType = "application/x-iso9660-image"
	}
	if prev != nil && v.size < prev.size {
		v.size = prev.size + rng.Int64N(mib) // a viewer's range of the old version is in the new one too
	}
	if o.kind == kindSmall && v.size <= 4*mib {
		v.held = make([]byte, v.size)
		_, _ = io.ReadFull(v.reader(), v.held)
	}
	if rng.IntN(2) == 0 {
		v.cacheControl = fmt.Sprintf("public, max-age=%d", 60*rng.IntN(100))
	}
	if rng.IntN(3) == 0 {
		v.metadata["owner"] = "team " + strconv.Itoa(rng.IntN(9))
	}
	h := sha256.New()
	_, _ = io.Copy(h, v.reader())
	copy(v.sha[:], h.Sum(nil))
	return v
}

// reader streams the version's bytes.
func (v *version) reader() io.ReadSeekCloser {
	if v.held != nil || v.size == 0 {
		return nopCloser{bytes.NewReader(v.held)}
	}
	return &generated{seed: v.seed, size: v.size}
}

// slice returns bytes [from, to] (inclusive) of the version.
func (v *version) slice(from, to int64) []byte {
	r := v.reader()
	defer r.Close()
	if _, err := r.Seek(from, io.SeekStart); err != nil {
		return nil
	}
	b := make([]byte, to-from+1)
	n, _ := io.ReadFull(r, b)
	return b[:n]
}

// put stores the version at the source and records its generation.
func (v *version) put(g *standin.GCS, key string) error {
	r := v.reader()
	defer r.Close()
	v.putStart = time.Now()
	attrs, err := g.PutObjectStreaming(standin.GCSObject{
		Bucket: harness.GCSBucket, Key: key, ContentType: v.contentType, CacheControl: v.cacheControl,
		ContentEncoding: v.contentEncoding, Metadata: v.metadata,
	}, r)
	if err != nil {
		return err
	}
	v.generation = strconv.FormatInt(attrs.Generation, 10)
	return nil
}

const genBlock = 64 << 10

// generated is seeded pseudo-random content, readable at any offset
// without holding it: block i is ChaCha8 keyed by sha256(seed, i).
type generated struct {
	seed     [32]byte
	size     int64
	off      int64
	blockIdx int64
	block    []byte
}

func (g *generated) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	idx := g.off / genBlock
	if g.block == nil || g.blockIdx != idx {
		var k [40]byte
		copy(k[:], g.seed[:])
		binary.LittleEndian.PutUint64(k[32:], uint64(idx))
		c := rand.NewChaCha8(sha256.Sum256(k[:]))
		if g.block == nil {
			g.block = make([]byte, genBlock)
		}
		_, _ = c.Read(g.block)
		g.blockIdx = idx
	}
	in := g.off - idx*genBlock
	n := copy(p, g.block[in:min(int64(genBlock), g.size-idx*genBlock)])
	g.off += int64(n)
	return n, nil
}

func (g *generated) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += g.off
	case io.SeekEnd:
		offset += g.size
	}
	if offset < 0 {
		return 0, errors.New("negative offset")
	}
	g.off = offset
	return offset, nil
}

func (g *generated) Close() error { return nil }

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
