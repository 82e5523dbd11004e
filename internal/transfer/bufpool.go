package transfer

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// bufferPool hands out part buffers within a fixed memory budget shared by
// every copy the engine runs, so concurrent records in a batch do not
// multiply memory: peak use is the budget (part size x part concurrency)
// plus at most one oversized part for objects so large that 10,000 parts
// need bigger parts than the budget holds.
type bufferPool struct {
	budget int64
	sem    *semaphore.Weighted
	size   int64 // the usual part size; buffers of this size are reused

	mu   sync.Mutex
	free [][]byte
}

func newBufferPool(partSize int64, count int) *bufferPool {
	budget := partSize * int64(count)
	return &bufferPool{budget: budget, sem: semaphore.NewWeighted(budget), size: partSize}
}

// get waits for room in the budget and returns a buffer of length n.
func (p *bufferPool) get(ctx context.Context, n int64) ([]byte, error) {
	if err := p.sem.Acquire(ctx, p.weight(n)); err != nil {
		return nil, err
	}
	if n <= p.size {
		p.mu.Lock()
		if k := len(p.free); k > 0 {
			b := p.free[k-1]
			p.free = p.free[:k-1]
			p.mu.Unlock()
			return b[:n], nil
		}
		p.mu.Unlock()
		return make([]byte, n, p.size), nil
	}
	return make([]byte, n), nil
}

func (p *bufferPool) put(b []byte) {
	if int64(cap(b)) == p.size {
		p.mu.Lock()
		p.free = append(p.free, b)
		p.mu.Unlock()
	}
	// Oversized buffers are left to the garbage collector: keeping them
	// would pin their memory after the huge object is done.
	p.sem.Release(p.weight(int64(len(b))))
}

// weight is what a buffer of n bytes costs against the budget; a part
// larger than the whole budget takes the whole budget (it runs alone).
func (p *bufferPool) weight(n int64) int64 {
	w := max(n, p.size) // small buffers still occupy a pooled slot
	return min(w, p.budget)
}
