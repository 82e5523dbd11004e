package standin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ModuleRoot returns the directory holding go.mod, found by walking up from
// the working directory (go test runs each package in its own folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// ToolPath returns the path of a binary installed by `make tools` into
// <module root>/.tools/bin, or an error telling how to install it.
func ToolPath(name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, ".tools", "bin", name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s not found at %s: run `make tools` to install it", name, path)
	}
	return path, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. The port is
// released before the child binds it, so a start can race with another
// process; callers retry a failed start on a new port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomSecret returns n random bytes as hex, for throwaway credentials.
func randomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // cannot happen on Linux
	}
	return hex.EncodeToString(b)
}

// process is a child server process with its combined output kept for error
// messages.
type process struct {
	name   string
	cmd    *exec.Cmd
	output *TailBuffer
	exited chan struct{}
	err    error // valid after exited is closed
	// closeOnStop, when set, is closed before signalling (a child that
	// exits on end of stdin).
	closeOnStop io.Closer
}

func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	p := &process{name: name, cmd: cmd, output: &TailBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = p.output
	cmd.Stderr = p.output
	cmd.SysProcAttr = childAttrs()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitTCP waits until addr accepts connections, the process exits or the
// context ends.
func (p *process) waitTCP(ctx context.Context, addr string) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before listening on %s (%v): %s", p.name, addr, p.err, p.output.String())
		case <-ctx.Done():
			return fmt.Errorf("%s not listening on %s: %w: %s", p.name, addr, ctx.Err(), p.output.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop asks the process to terminate, then kills it if it has not exited
// after a grace period. It always waits, so no zombie is left behind.
func (p *process) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if p.closeOnStop != nil {
		_ = p.closeOnStop.Close()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return nil
}

// TailBuffer keeps the recent output of a process for error messages,
// safe for concurrent writes: past Limit bytes (default 1 MiB) it drops all
// but the last Limit/2, so a long run cannot grow it without bound.
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
