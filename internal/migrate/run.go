package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// DefaultRanges is how many key ranges each prefix is cut into, and how
// many are listed at once.
const DefaultRanges = 16

// ErrBadPrefixes: two prefixes overlap, so a key would be counted twice.
var ErrBadPrefixes = errors.New("prefixes overlap")

// PlanRanges cuts each prefix into about n ranges, in key order (an empty
// list means the whole bucket). Where the source can say which
// "directories" a prefix holds (ChildLister, one listing call), the cuts
// fall between them, in groups of about equal numbers of children; a
// prefix holding a single directory is looked into; otherwise the cuts
// fall at the character after the prefix.
func PlanRanges(ctx context.Context, src Lister, prefixes []string, n int) ([]Range, error) {
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	sorted := slices.Clone(prefixes)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for i := 1; i < len(sorted); i++ {
		if strings.HasPrefix(sorted[i], sorted[i-1]) {
			return nil, fmt.Errorf("%w: %q contains %q", ErrBadPrefixes, sorted[i-1], sorted[i])
		}
	}
	var ranges []Range
	for _, p := range sorted {
		rs, err := planPrefix(ctx, src, p, max(n, 1))
		if err != nil {
			return nil, err
		}
		ranges = append(ranges, rs...)
	}
	return ranges, nil
}

// ChildLister lists the entries one level below a prefix: the common
// prefixes up to the next "/" and the keys without one, in key order.
type ChildLister interface {
	ListChildren(ctx context.Context, prefix string, max int) (children []string, err error)
}

// maxChildren is one listing page.
const maxChildren = 1000

func planPrefix(ctx context.Context, src Lister, prefix string, n int) ([]Range, error) {
	cl, ok := src.(ChildLister)
	if !ok || n == 1 {
		return SplitRanges(prefix, n), nil
	}
	at := prefix
	for depth := 0; depth < 3; depth++ {
		children, err := cl.ListChildren(ctx, at, maxChildren)
		if err != nil {
			return nil, fmt.Errorf("plan the ranges of %q: %w", prefix, err)
		}
		switch {
		case len(children) == 1 && strings.HasSuffix(children[0], "/"):
			at = children[0] // a single directory: its children are the spread
			continue
		case len(children) < 2:
			return SplitRanges(prefix, n), nil
		}
		parts := min(n, len(children))
		ranges := make([]Range, 0, parts)
		after := ""
		for i := 1; i < parts; i++ {
			// A directory's keys sort after its name, so cutting at the
			// name keeps each directory whole in the next range.
			bound := children[i*len(children)/parts]
			ranges = append(ranges, Range{Prefix: prefix, After: after, Through: bound})
			after = bound
		}
		return append(ranges, Range{Prefix: prefix, After: after}), nil
	}
	return SplitRanges(prefix, n), nil
}

// Tally counts objects and their bytes.
type Tally struct {
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// counter is a Tally safe for concurrent use.
type counter struct{ objects, bytes atomic.Int64 }

func (c *counter) add(size int64)  { c.objects.Add(1); c.bytes.Add(size) }
func (c *counter) tally() Tally    { return Tally{c.objects.Load(), c.bytes.Load()} }
func (c *counter) restore(t Tally) { c.objects.Store(t.Objects); c.bytes.Store(t.Bytes) }

// forRanges runs fn for every range, parallel ranges at once; the first
// error cancels the rest.
func forRanges(ctx context.Context, ranges []Range, parallel int, fn func(ctx context.Context, i int, r Range) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for i, r := range ranges {
		g.Go(func() error { return fn(ctx, i, r) })
	}
	return g.Wait()
}

// prefixSeen records which prefixes matched at least one source key.
type prefixSeen struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (p *prefixSeen) mark(prefix string) {
	p.mu.Lock()
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[prefix] = true
	p.mu.Unlock()
}

// ErrPrefixEmpty: a prefix matches no key at the source (a typo, or the
// wrong bucket); said rather than reported as a complete migration.
var ErrPrefixEmpty = errors.New("matches no object at the source")

// check fails for the first given prefix that matched nothing on either
// side.
func (p *prefixSeen) check(prefixes []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, prefix := range prefixes {
		if !p.seen[prefix] {
			return fmt.Errorf("prefix %q %w", prefix, ErrPrefixEmpty)
		}
	}
	return nil
}
