package standin

import (
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
	"time"

	"github.com/backtoorigin/backtoorigin/internal/supervise"
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

// process is a child server process, supervised, with its combined output
// kept for error messages.
type process struct {
	*supervise.Process
	output *supervise.TailBuffer
}

// stopGrace is how long a stand-in gets to exit after SIGTERM.
const stopGrace = 5 * time.Second

func startProcess(name string, cmd *exec.Cmd, closeOnStop io.Closer) (*process, error) {
	output := &supervise.TailBuffer{}
	cmd.Stdout = output
	cmd.Stderr = output
	p, err := supervise.Start(cmd, supervise.Options{Name: name, CloseOnStop: closeOnStop})
	if err != nil {
		return nil, err
	}
	return &process{Process: p, output: output}, nil
}

// waitTCP waits until addr accepts connections, the process exits or the
// context ends.
func (p *process) waitTCP(ctx context.Context, addr string) error {
	return p.WaitTCP(ctx, addr, p.output)
}

// stop asks the process to terminate, then kills it if it has not exited
// after a grace period. It always waits, so no zombie is left behind.
func (p *process) stop() error {
	p.Stop(stopGrace)
	return nil
}
