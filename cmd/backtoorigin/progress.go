package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how a command is doing on stderr: a progress bar on a
// terminal, a line every few seconds otherwise (logs, CI).
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	bar     *progressbar.ProgressBar
	start   time.Time
	last    time.Time
	line    string
	printed string // the last line written without a terminal
}

// newProgress starts a display; max is the number of steps (ranges), or -1
// when unknown.
func newProgress(w io.Writer, what string, max int64) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionSetItsString("ranges"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionFullWidth(),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) rate(n int64) float64 {
	s := time.Since(p.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

// steps sets the number of steps once it is known.
func (p *progress) steps(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && p.bar.GetMax64() != n {
		p.bar.ChangeMax64(n)
	}
}

// keys shows a count of keys (verify).
func (p *progress) keys(n int64, verb string) {
	p.show(-1, fmt.Sprintf("%d keys %s (%.0f keys/s)", n, verb, p.rate(n)))
}

// show updates the display: step is the steps done (-1: unchanged).
func (p *progress) show(step int64, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line = line
	if p.bar != nil {
		if step >= 0 {
			_ = p.bar.Set64(step)
		}
		p.bar.Describe(line)
		return
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last, p.printed = time.Now(), line
		fmt.Fprintln(p.w, line)
	}
}

// done ends the display, leaving the last line on a terminal.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
	if p.line != "" && p.line != p.printed {
		fmt.Fprintln(p.w, p.line)
	}
}
