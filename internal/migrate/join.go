package migrate

import (
	"iter"
	"strconv"
	"time"
)

// Kind classifies one key of the merge-join.
type Kind string

const (
	KindMissing Kind = "missing" // at the source, not in S3
	KindStale   Kind = "stale"   // in both, but S3's copy is not the source's current version
	KindExtra   Kind = "extra"   // in S3, not at the source
	KindSame    Kind = "same"    // in both, and as far as checked the same
	// KindForeign: in both, the source changed after S3's object was
	// written, and S3's object carries no source-generation metadata: this
	// system did not write it, so it is reported and never replaced.
	KindForeign Kind = "foreign"
	// KindUnverified: --deep could not compare checksums (no CRC32C on one side).
	KindUnverified Kind = "unverified"
	// KindExcluded: at the source, not in S3, and never to be copied: the
	// deployment's key rules leave it out, or the transfer refuses the key
	// (see Sides.exclude). A backfill does not queue it; verify counts it
	// apart, since no copy will ever make it present.
	KindExcluded Kind = "excluded"
)

// Entry is one key of the merge-join.
type Entry struct {
	Kind   Kind    `json:"kind"`
	Key    string  `json:"key"`
	Reason string  `json:"reason,omitempty"`
	Source *Object `json:"-"`
	Dest   *Object `json:"-"`
	// Candidate: the listings alone cannot tell; a HEAD of the destination
	// must say whether S3 holds the source's current generation.
	Candidate bool `json:"-"`
}

// RewriteMargin widens the "changed after the copy" test: S3's
// LastModified of a PutObject is taken when the write ends (and listed in
// whole seconds), so a source overwritten while a copy was being written
// can carry a generation slightly older than the copy. Keys inside the
// margin cost one HEAD, never a wrong answer.
const RewriteMargin = 5 * time.Minute

// Join merge-joins two ascending listings of the same range.
func Join(src, dst iter.Seq2[Object, error]) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		nextSrc, stopSrc := iter.Pull2(src)
		defer stopSrc()
		nextDst, stopDst := iter.Pull2(dst)
		defer stopDst()
		pull := func(next func() (Object, error, bool)) (*Object, error) {
			o, err, ok := next()
			if !ok {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return &o, nil
		}
		s, err := pull(nextSrc)
		if err != nil {
			yield(Entry{}, err)
			return
		}
		d, err := pull(nextDst)
		if err != nil {
			yield(Entry{}, err)
			return
		}
		for s != nil || d != nil {
			var e Entry
			switch {
			case d == nil || s != nil && s.Key < d.Key:
				e = Entry{Kind: KindMissing, Key: s.Key, Source: s}
				s, err = pull(nextSrc)
			case s == nil || d.Key < s.Key:
				e = Entry{Kind: KindExtra, Key: d.Key, Dest: d}
				d, err = pull(nextDst)
			default:
				e = compare(s, d)
				s, err = pull(nextSrc)
				if err == nil {
					d, err = pull(nextDst)
				}
			}
			if !yield(e, nil) {
				return
			}
			if err != nil {
				yield(Entry{}, err)
				return
			}
		}
	}
}

// compare classifies a key present on both sides from the listings alone.
func compare(s, d *Object) Entry {
	e := Entry{Kind: KindSame, Key: s.Key, Source: s, Dest: d}
	if s.Size != d.Size {
		e.Kind, e.Reason = KindStale, "size: source "+strconv.FormatInt(s.Size, 10)+", S3 "+strconv.FormatInt(d.Size, 10)
		return e
	}
	if t, ok := GenerationTime(s.Generation); ok && t.After(d.LastModified.Add(-RewriteMargin)) {
		e.Candidate = true
	}
	return e
}

// GenerationTime reads a GCS generation as the time it was written (GCS
// generations are microsecond timestamps).
func GenerationTime(generation string) (time.Time, bool) {
	us, err := strconv.ParseInt(generation, 10, 64)
	if err != nil || us <= 0 {
		return time.Time{}, false
	}
	return time.UnixMicro(us), true
}
