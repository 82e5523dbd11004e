package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// onePage is a Lister that answers like fake-gcs-server: every key in one
// page, whatever the page size or start-after say.
type onePage struct{ keys []string }

func (l onePage) Name() string { return "one page" }
func (l onePage) ListPage(_ context.Context, prefix, _, _ string, _ int) ([]Object, string, error) {
	var objs []Object
	for _, k := range l.keys {
		if strings.HasPrefix(k, prefix) {
			objs = append(objs, Object{Key: k, Size: int64(len(k))})
		}
	}
	return objs, "", nil
}

var sampleKeys = []string{"", "0", "9z", "A", "a", "a b+c", "a/", "a/0", "a/1", "a/9", "a/Z", "a/a", "a/z", "a/zz", "a/\xc3\xbc", "a0", "b", "z", "zz", "\xc3\xbc", "\xe2\x82\xac"}

func keysOf(t *testing.T, seq func(func(Object, error) bool)) []string {
	t.Helper()
	var got []string
	for o, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.Key)
	}
	return got
}

func TestRangesPartitionEachPrefixExactlyOnce(t *testing.T) {
	keys := sampleKeys[1:] // S3 has no empty key
	for _, prefix := range []string{"", "a/", "zz"} {
		for _, n := range []int{1, 2, 7, 16, 62, 100} {
			var got []string
			for _, r := range SplitRanges(prefix, n) {
				got = append(got, keysOf(t, List(context.Background(), onePage{keys}, r, 3))...)
			}
			var want []string
			for _, k := range keys {
				if strings.HasPrefix(k, prefix) {
					want = append(want, k)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("prefix %q in %d ranges: listed %q, want %q", prefix, n, got, want)
			}
		}
	}
}

func TestPlanRangesRefusesOverlappingPrefixes(t *testing.T) {
	if _, err := PlanRanges(context.Background(), onePage{}, []string{"img/", "img/thumbs/"}, 4); !errors.Is(err, ErrBadPrefixes) {
		t.Fatalf("overlapping prefixes: %v", err)
	}
	rs, err := PlanRanges(context.Background(), onePage{}, []string{"b/", "a/", "b/"}, 2)
	if err != nil || len(rs) != 4 || rs[0].Prefix != "a/" || rs[3].Prefix != "b/" {
		t.Fatalf("ranges %+v, %v", rs, err)
	}
}

type misordered struct{}

func (misordered) Name() string { return "misordered" }
func (misordered) ListPage(context.Context, string, string, string, int) ([]Object, string, error) {
	return []Object{{Key: "b"}, {Key: "a"}}, "", nil
}

func TestListRefusesAListingOutOfOrder(t *testing.T) {
	for _, err := range List(context.Background(), misordered{}, Range{}, 10) {
		if errors.Is(err, ErrOutOfOrder) {
			return
		}
	}
	t.Fatal("a descending listing was accepted")
}

func TestJoinClassifiesByKeyAndSize(t *testing.T) {
	seq := func(objs ...Object) func(func(Object, error) bool) {
		return func(yield func(Object, error) bool) {
			for _, o := range objs {
				if !yield(o, nil) {
					return
				}
			}
		}
	}
	src := seq(Object{Key: "a", Size: 1}, Object{Key: "b", Size: 2}, Object{Key: "d", Size: 4}, Object{Key: "e", Size: 5})
	dst := seq(Object{Key: "b", Size: 2}, Object{Key: "c", Size: 3}, Object{Key: "d", Size: 40}, Object{Key: "f", Size: 6})
	var got []string
	for e, err := range Join(src, dst) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%s", e.Key, e.Kind))
	}
	want := []string{"a:missing", "b:same", "c:extra", "d:stale", "e:missing", "f:extra"}
	if !slices.Equal(got, want) {
		t.Fatalf("join %v, want %v", got, want)
	}
}
