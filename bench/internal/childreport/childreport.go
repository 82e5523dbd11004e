// Package childreport is the tiny protocol between the bench orchestrator and the helper
// programs it runs as child processes (so each one's peak RSS can be read on its own).
//
// A child that was given -wait-go first prepares (for example generates the object it will
// upload), writes a "ready" line, and starts measuring only after the orchestrator writes a
// line to its stdin. That keeps setup out of the measured time and lets the orchestrator
// start two children at the same instant. At the end the child writes one Result line.
package childreport

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Result is what a child measured itself.
type Result struct {
	Bytes         int64 `json:"bytes"`
	StartUnixNano int64 `json:"startUnixNano"`
	EndUnixNano   int64 `json:"endUnixNano"`
}

// Ready is the line a waiting child writes before it blocks on stdin. CPUSeconds is what
// the preparation cost, so the orchestrator can leave it out of the run's CPU time.
type Ready struct {
	Ready      bool    `json:"ready"`
	CPUSeconds float64 `json:"cpuSeconds"`
}

// Usage is what the peakrss wrapper learned about the program it ran.
type Usage struct {
	MaxRSSKiB  int64   `json:"maxRSSKiB"`
	CPUSeconds float64 `json:"cpuSeconds"`
}

// Seconds converts a rusage time.
func Seconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// WaitForGo announces readiness on stdout and blocks until the orchestrator writes a line.
func WaitForGo() error {
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return fmt.Errorf("read own cpu time: %w", err)
	}
	ready := Ready{Ready: true, CPUSeconds: Seconds(self.Utime) + Seconds(self.Stime)}
	if err := json.NewEncoder(os.Stdout).Encode(ready); err != nil {
		return fmt.Errorf("write ready line: %w", err)
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil && err != io.EOF {
		return fmt.Errorf("wait for go line: %w", err)
	}
	return nil
}

// Write prints the result line.
func Write(bytes int64, start, end time.Time) error {
	r := Result{Bytes: bytes, StartUnixNano: start.UnixNano(), EndUnixNano: end.UnixNano()}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return fmt.Errorf("write result line: %w", err)
	}
	return nil
}
