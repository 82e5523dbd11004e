package migrate

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
)

// Object is one listed key.
type Object struct {
	Key          string
	Size         int64
	Generation   string // GCS generation (microseconds since the epoch); "" elsewhere
	LastModified time.Time
	ETag         string
}

// Range is a slice of one prefix's key space: keys that start with Prefix,
// sort after After (exclusive) and not after Through (inclusive; "" means
// no end). Ranges with the same prefix and consecutive bounds partition it.
type Range struct {
	Prefix  string `json:"prefix"`
	After   string `json:"after,omitempty"`
	Through string `json:"through,omitempty"`
}

// Contains reports whether key belongs to r.
func (r Range) Contains(key string) bool {
	return strings.HasPrefix(key, r.Prefix) && key > r.After && (r.Through == "" || key <= r.Through)
}

// past reports whether key, and therefore every later key, is beyond r.
func (r Range) past(key string) bool {
	return r.Through != "" && key > r.Through || !strings.HasPrefix(key, r.Prefix) && key > r.Prefix
}

// startAfter is the StartAfter to list r from: the larger of After and the
// key just before Prefix's first key.
func (r Range) startAfter() string {
	if r.After > r.Prefix {
		return r.After
	}
	return ""
}

// splitAlphabet is where a prefix's key space is cut: the characters most
// keys continue with, in byte order.
const splitAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// SplitRanges cuts prefix's key space into n consecutive ranges at the
// character that follows the prefix (ranges of an empty key space are
// harmless: each costs one listing call).
func SplitRanges(prefix string, n int) []Range {
	n = max(1, min(n, len(splitAlphabet)))
	ranges := make([]Range, 0, n)
	after := ""
	for i := 1; i < n; i++ {
		bound := prefix + string(splitAlphabet[i*len(splitAlphabet)/n])
		ranges = append(ranges, Range{Prefix: prefix, After: after, Through: bound})
		after = bound
	}
	return append(ranges, Range{Prefix: prefix, After: after})
}

// Lister lists one side in ascending key order, one page at a time.
type Lister interface {
	// ListPage returns the keys after startAfter (all of them when it is
	// empty) that start with prefix, at most pageSize, and a token for the
	// next page ("" at the end). A server may return more than pageSize or
	// ignore startAfter (fake-gcs-server does both): List clamps.
	ListPage(ctx context.Context, prefix, startAfter, token string, pageSize int) (objs []Object, next string, err error)
	// Name says which side this is, for errors ("source", "destination").
	Name() string
}

// ErrOutOfOrder means a listing was not strictly increasing: the
// merge-join cannot work with it.
var ErrOutOfOrder = errors.New("listing is not in ascending key order")

// DefaultPageSize is S3's and GCS's maximum page.
const DefaultPageSize = 1000

// List yields r's keys from l in ascending order. Pages are fetched one
// ahead in a goroutine, so listing overlaps with whatever consumes it; the
// page handed over is unbuffered, so a range holds at most two pages (the
// one being consumed and the next, fetched or being fetched): a buffer
// would add a third page per side and range, a third more memory, and no
// speed, since the listing either keeps up or does not.
func List(ctx context.Context, l Lister, r Range, pageSize int) iter.Seq2[Object, error] {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	return func(yield func(Object, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		type page struct {
			objs []Object
			err  error
		}
		pages := make(chan page)
		go func() {
			defer close(pages)
			token := ""
			for {
				objs, next, err := l.ListPage(ctx, r.Prefix, r.startAfter(), token, pageSize)
				select {
				case pages <- page{objs, err}:
				case <-ctx.Done():
					return
				}
				if err != nil || next == "" || len(objs) == 0 || r.past(objs[len(objs)-1].Key) {
					return
				}
				token = next
			}
		}()
		last := ""
		for p := range pages {
			if p.err != nil {
				yield(Object{}, fmt.Errorf("list %s: %w", l.Name(), p.err))
				return
			}
			for _, o := range p.objs {
				if last != "" && o.Key <= last {
					yield(Object{}, fmt.Errorf("list %s: %q came after %q: %w", l.Name(), o.Key, last, ErrOutOfOrder))
					return
				}
				last = o.Key
				if r.past(o.Key) {
					return
				}
				if !r.Contains(o.Key) {
					continue
				}
				if !yield(o, nil) {
					return
				}
			}
		}
		if err := ctx.Err(); err != nil {
			yield(Object{}, err)
		}
	}
}
