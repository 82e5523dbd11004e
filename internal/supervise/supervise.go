// Package supervise starts and stops every child process of the tests, the local harness and
// the benchmark in one way: the stand-in servers, the transfer function under the local Lambda
// runtime, the node runners of the edge functions, and the benchmark's contenders.
//
// A supervised child dies with its parent where the platform can arrange it (a parent-death
// signal on Linux), can have a process group of its own (so a terminal's Ctrl-C reaches only the
// parent, which then stops its children in order), is always waited for (no zombies), and stops
// with SIGTERM first and SIGKILL after a grace period.
package supervise

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// Options say how to run a child; the command's own I/O is set by the caller.
type Options struct {
	// Name is used in errors.
	Name string
	// OwnGroup puts the child in a process group of its own.
	OwnGroup bool
	// CloseOnStop, when set, is closed before the child is signalled: for a child that exits at
	// the end of its standard input.
	CloseOnStop io.Closer
}

// Process is a started child.
type Process struct {
	Cmd    *exec.Cmd
	opts   Options
	exited chan struct{}
	err    error // valid once exited is closed
}

// Start starts cmd and waits for it in the background.
func Start(cmd *exec.Cmd, opts Options) (*Process, error) {
	if opts.Name == "" {
		opts.Name = cmd.Path
	}
	cmd.SysProcAttr = Attrs(opts.OwnGroup)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", opts.Name, err)
	}
	p := &Process{Cmd: cmd, opts: opts, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Attrs are the process attributes Start gives a child, for a caller that must run Wait itself
// (exec.Cmd.Wait closes a StdoutPipe, so a caller that reads the child's output to its end
// cannot let Start wait in the background).
func Attrs(ownGroup bool) *syscall.SysProcAttr { return childAttrs(ownGroup) }

// Exited is closed once the child has exited and been waited for.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Wait blocks until the child exits and returns what exec.Cmd.Wait returned.
func (p *Process) Wait() error {
	<-p.exited
	return p.err
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Stop asks the child to terminate (SIGTERM), kills it if it has not exited after grace, and
// waits for it. A child that has exited already is left as it is.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	if p.opts.CloseOnStop != nil {
		_ = p.opts.CloseOnStop.Close()
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill kills the child at once (SIGKILL) and waits for it: a crash, as tests provoke it.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.exited
}

// WaitTCP waits until addr accepts connections, the child exits or ctx ends; output, if set,
// is quoted in the error (what the child said before it failed).
func (p *Process) WaitTCP(ctx context.Context, addr string, output fmt.Stringer) error {
	said := func() string {
		if output == nil {
			return ""
		}
		return ": " + output.String()
	}
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before listening on %s (%v)%s", p.opts.Name, addr, p.err, said())
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s: %w%s", p.opts.Name, addr, ctx.Err(), said())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
