// Command peakrss runs one program and writes the program's own resource usage (peak RSS,
// CPU seconds) as JSON to a file.
//
// Why a separate process: a child's ru_maxrss starts at the peak RSS of whoever spawned it,
// because Go starts children with vfork (CLONE_VM) and exec records the shared, old
// address space's high-water mark. The orchestrator holds the source objects (up to a
// gigabyte) for fake-gcs, so every contender it spawned directly would "peak" at over a
// gigabyte. This program's own footprint is a few MiB, far below any contender's, so the
// maximum the kernel reports is the contender's.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"syscall"

	"github.com/backtoorigin/backtoorigin/bench/internal/childreport"
	"github.com/backtoorigin/backtoorigin/internal/supervise"
)

func main() {
	log.SetFlags(0)
	report := flag.String("report", "", "file to write the JSON usage to")
	flag.Parse()
	if *report == "" || flag.NArg() == 0 {
		log.Fatal("usage: peakrss -report FILE PROGRAM [ARGS...]")
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	// The program talks to the orchestrator directly through the inherited descriptors.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = supervise.Attrs(false)
	runErr := cmd.Run()
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		log.Fatalf("peakrss: %v", runErr)
	}
	usage := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	u := childreport.Usage{
		MaxRSSKiB:  usage.Maxrss,
		CPUSeconds: childreport.Seconds(usage.Utime) + childreport.Seconds(usage.Stime),
	}
	raw, err := json.Marshal(u)
	if err != nil {
		log.Fatalf("peakrss: %v", err)
	}
	if err := os.WriteFile(*report, raw, 0o600); err != nil {
		log.Fatalf("peakrss: write report: %v", err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		fmt.Fprintf(os.Stderr, "peakrss: %s exited with %v\n", flag.Arg(0), cmd.ProcessState)
		os.Exit(max(code, 1))
	}
}
