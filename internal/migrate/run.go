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

// PlanRanges cuts each prefix into n ranges, in key order. An empty list
// means the whole bucket.
func PlanRanges(prefixes []string, n int) ([]Range, error) {
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
		ranges = append(ranges, SplitRanges(p, n)...)
	}
	return ranges, nil
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
