package supervise

import (
	"bytes"
	"sync"
)

// TailBuffer keeps the recent output of a process for error messages, safe for concurrent
// writes: past Limit bytes (default 1 MiB) it drops all but the last Limit/2, so a long run
// cannot grow it without bound.
type TailBuffer struct {
	Limit int

	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := b.Limit
	if limit <= 0 {
		limit = 1 << 20
	}
	if b.buf.Len() > limit {
		b.buf.Next(b.buf.Len() - limit/2)
	}
	return b.buf.Write(p)
}

func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
