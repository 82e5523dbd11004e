package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// lineSplitter forwards output and hands every JSON object line (the
// function's structured logs) to onJSON. Several processes share it.
type lineSplitter struct {
	mu     sync.Mutex
	out    io.Writer
	onJSON func(map[string]any)
	buf    []byte
}

func (l *lineSplitter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.out.Write(p)
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := l.buf[:i]
		if l.onJSON != nil && len(line) > 0 && line[0] == '{' {
			var entry map[string]any
			if json.Unmarshal(line, &entry) == nil {
				l.onJSON(entry)
			}
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 1<<20 { // a line without end: drop it rather than grow
		l.buf = l.buf[:0]
	}
	return len(p), nil
}
