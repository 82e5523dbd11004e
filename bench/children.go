package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/supervise"

	"github.com/backtoorigin/backtoorigin/bench/internal/childreport"
)

// childSpec is one measured child process. Every contender is a separate process so
// the kernel's peak-RSS counter (rusage ru_maxrss) belongs to it alone.
type childSpec struct {
	Name string
	Path string
	Args []string
	Env  []string
	// WaitGo children prepare first, say "ready" and start only on a line on stdin;
	// they report their own start and end. Others are timed from exec to exit, which is
	// what a user of the tool sees (startup included).
	WaitGo bool
	// ReportsInner children print a childreport.Result for their core work on exit.
	ReportsInner bool
}

// childRun is what one child cost.
type childRun struct {
	Name       string
	MaxRSSKiB  int64
	CPUSeconds float64 // user+system after the go line (WaitGo) or in total
	Reported   *childreport.Result
	Stderr     string // the tail of what the child logged
}

// groupRun is what running some children at the same time cost.
type groupRun struct {
	Seconds             float64 // from the first start to the last end
	Children            []childRun
	MinIOCPU            cpuTimes
	OrchestratorCPUSecs float64 // the in-process fake-gcs-server serving the source
	MachineCPUSeconds   float64 // every process on the machine, to expose interference
}

type runningChild struct {
	spec      childSpec
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	stdout    *bufio.Reader
	stderr    *supervise.TailBuffer
	output    *supervise.TailBuffer // stdout of non-WaitGo children (rclone's notices)
	cpuAtGo   float64               // the child's own CPU time when it said ready
	usageFile string
	exitedAt  time.Time
	waitErr   error
}

// runGroup starts specs together and waits for all of them. WaitGo children are started
// and prepared first; CPU counters are read just before the go signal, so preparation
// (generating a gigabyte to PUT) is neither timed nor counted.
func runGroup(ctx context.Context, peakrss string, specs []childSpec, minioPid int) (groupRun, error) {
	children := make([]*runningChild, len(specs))
	defer stopChildren(children)
	if err := prepareWaitGo(ctx, peakrss, specs, children); err != nil {
		return groupRun{}, err
	}

	minioBefore, err := processCPUTimes(minioPid)
	if err != nil {
		return groupRun{}, err
	}
	selfBefore := selfCPUSeconds()
	machineBefore := machineBusySeconds()
	start := time.Now()
	if err := startTogether(ctx, peakrss, specs, children); err != nil {
		return groupRun{}, err
	}
	waitAll(children)
	end := time.Now()

	run := groupRun{
		MinIOCPU:            mustCPU(processCPUTimes(minioPid)).minus(minioBefore),
		OrchestratorCPUSecs: selfCPUSeconds() - selfBefore,
		MachineCPUSeconds:   machineBusySeconds() - machineBefore,
	}
	var errs []error
	first, last := end, start
	for _, c := range children {
		cr, began, ended, err := c.result(start)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		first, last = minTime(first, began), maxTime(last, ended)
		run.Children = append(run.Children, cr)
	}
	if err := errors.Join(errs...); err != nil {
		return groupRun{}, err
	}
	run.Seconds = last.Sub(first).Seconds()
	return run, nil
}

// stopChildren kills the children still running and removes their usage
// files.
func stopChildren(children []*runningChild) {
	for _, c := range children {
		if c == nil {
			continue
		}
		if c.cmd.ProcessState == nil && c.cmd.Process != nil {
			_ = c.cmd.Process.Kill() // the contender dies with it (Pdeathsig)
			_ = c.cmd.Wait()
		}
		os.Remove(c.usageFile)
	}
}

// prepareWaitGo starts the WaitGo children into children and waits until
// each has said it is ready.
func prepareWaitGo(ctx context.Context, peakrss string, specs []childSpec, children []*runningChild) error {
	for i, spec := range specs {
		if !spec.WaitGo {
			continue
		}
		c, err := startChild(ctx, peakrss, spec)
		if err != nil {
			return err
		}
		children[i] = c
		line, err := c.stdout.ReadString('\n')
		var ready childreport.Ready
		if err != nil || json.Unmarshal([]byte(line), &ready) != nil || !ready.Ready {
			return fmt.Errorf("%s did not get ready (%q, %v): %s", spec.Name, line, err, c.stderr.String())
		}
		c.cpuAtGo = ready.CPUSeconds
	}
	return nil
}

// startTogether tells the prepared children to go and starts the others.
func startTogether(ctx context.Context, peakrss string, specs []childSpec, children []*runningChild) error {
	for i, spec := range specs {
		if spec.WaitGo {
			if _, err := io.WriteString(children[i].stdin, "go\n"); err != nil {
				return fmt.Errorf("signal %s: %w", spec.Name, err)
			}
			continue
		}
		c, err := startChild(ctx, peakrss, spec)
		if err != nil {
			return err
		}
		children[i] = c
	}
	return nil
}

// waitAll waits until every child has exited.
func waitAll(children []*runningChild) {
	done := make(chan *runningChild, len(children))
	for _, c := range children {
		go func() {
			if c.spec.WaitGo {
				// Drain stdout into the child's result before Wait closes the pipe.
				c.output = newTailBuffer()
				_, _ = io.Copy(c.output, c.stdout)
			}
			c.waitErr = c.cmd.Wait()
			c.exitedAt = time.Now()
			done <- c
		}()
	}
	for range children {
		<-done
	}
}

// result is what the exited child cost, and when its measured work began
// and ended: as it reported (WaitGo), else from the group's start to its
// exit.
func (c *runningChild) result(start time.Time) (cr childRun, began, ended time.Time, err error) {
	if c.waitErr != nil {
		return childRun{}, began, ended, fmt.Errorf("%s: %w: %s%s", c.spec.Name, c.waitErr, c.stderr.String(), c.output.String())
	}
	var usage childreport.Usage
	raw, err := os.ReadFile(c.usageFile)
	if err == nil {
		err = json.Unmarshal(raw, &usage)
	}
	if err != nil {
		return childRun{}, began, ended, fmt.Errorf("%s: read peakrss report: %w", c.spec.Name, err)
	}
	cr = childRun{Name: c.spec.Name, MaxRSSKiB: usage.MaxRSSKiB, CPUSeconds: usage.CPUSeconds - c.cpuAtGo, Stderr: c.stderr.String()}
	if c.spec.WaitGo {
		var res childreport.Result
		if err := json.Unmarshal([]byte(strings.TrimSpace(c.output.String())), &res); err != nil {
			return childRun{}, began, ended, fmt.Errorf("%s: bad result line %q: %w", c.spec.Name, c.output.String(), err)
		}
		cr.Reported = &res
		return cr, time.Unix(0, res.StartUnixNano), time.Unix(0, res.EndUnixNano), nil
	}
	// A helper that times its own core work says so on its last stdout line.
	var res childreport.Result
	if c.spec.ReportsInner && json.Unmarshal([]byte(lastLine(c.output.String())), &res) == nil && res.EndUnixNano > 0 {
		cr.Reported = &res
	}
	return cr, start, c.exitedAt, nil
}

// startChild runs the spec under the peakrss wrapper (see bench/peakrss for why the
// orchestrator cannot read a direct child's peak RSS).
func startChild(ctx context.Context, peakrss string, spec childSpec) (*runningChild, error) {
	report, err := os.CreateTemp("", "usage-*.json")
	if err != nil {
		return nil, fmt.Errorf("usage file for %s: %w", spec.Name, err)
	}
	report.Close()
	c := &runningChild{spec: spec, stderr: newTailBuffer(), usageFile: report.Name()}
	args := append([]string{"-report", c.usageFile, spec.Path}, spec.Args...)
	c.cmd = exec.CommandContext(ctx, peakrss, args...)
	c.cmd.Env = spec.Env
	c.cmd.Stderr = c.stderr
	// The orchestrator reads the child's stdout to its end before it waits, so it runs Wait.
	c.cmd.SysProcAttr = supervise.Attrs(false)
	if spec.WaitGo {
		stdin, err := c.cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("stdin of %s: %w", spec.Name, err)
		}
		stdout, err := c.cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("stdout of %s: %w", spec.Name, err)
		}
		c.stdin, c.stdout = stdin, bufio.NewReader(stdout)
	} else {
		c.output = newTailBuffer()
		c.cmd.Stdout = c.output
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	return c, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// cpuTimes is a process's CPU time as the kernel splits it: user (utime) and system
// (stime), in seconds.
type cpuTimes struct {
	User, Sys float64
}

func (t cpuTimes) Total() float64 { return t.User + t.Sys }

func (t cpuTimes) minus(u cpuTimes) cpuTimes { return cpuTimes{t.User - u.User, t.Sys - u.Sys} }

// processCPUTimes reads utime and stime of a live process from /proc/PID/stat.
func processCPUTimes(pid int) (cpuTimes, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu time of %d: %w", pid, err)
	}
	t, err := parseProcStat(string(raw))
	if err != nil {
		return cpuTimes{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return t, nil
}

// parseProcStat takes utime and stime (fields 14 and 15) from a /proc/PID/stat line.
func parseProcStat(stat string) (cpuTimes, error) {
	// The command name (field 2) may hold spaces and parentheses; the fields after its
	// last ')' are fixed.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 > len(stat) {
		return cpuTimes{}, errors.New("no command name")
	}
	fields := strings.Fields(stat[i+2:]) // fields[0] is field 3 (state)
	if len(fields) < 13 {
		return cpuTimes{}, errors.New("too few fields")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return cpuTimes{}, err
	}
	const clockTicksPerSecond = 100 // USER_HZ, 100 on every Linux this runs on
	return cpuTimes{User: float64(utime) / clockTicksPerSecond, Sys: float64(stime) / clockTicksPerSecond}, nil
}

// machineBusySeconds is the non-idle CPU time of the whole machine (/proc/stat). What
// the bench does not account for during a run was spent by someone else (other builds
// and tests on a shared machine) and makes that run's numbers suspect.
func machineBusySeconds() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	// user, nice, system, and steal (the hypervisor lending our CPUs to other guests).
	// Interrupt time is left out: loopback networking of our own copies lands there
	// and is nobody's process time.
	for _, i := range []int{1, 2, 3, 8} {
		if i < len(fields) {
			v, _ := strconv.ParseInt(fields[i], 10, 64)
			busy += v
		}
	}
	const clockTicksPerSecond = 100
	return float64(busy) / clockTicksPerSecond
}

func mustCPU(v cpuTimes, err error) cpuTimes {
	if err != nil {
		return cpuTimes{} // MinIO died; the run's own error will say so
	}
	return v
}

func selfCPUSeconds() float64 {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return childreport.Seconds(u.Utime) + childreport.Seconds(u.Stime)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// newTailBuffer keeps the last output of a child for error messages.
func newTailBuffer() *supervise.TailBuffer { return &supervise.TailBuffer{Limit: 64 << 10} }
