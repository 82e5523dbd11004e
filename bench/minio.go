package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// minioServer is MinIO run as a child process on a free loopback port with a throwaway
// data folder and throwaway credentials. It is the S3 stand-in the issue asks the
// benchmark to use (the tests use versitygw; MinIO is the faster, more common target).
type minioServer struct {
	Endpoint        string
	AccessKeyID     string
	SecretAccessKey string

	cmd    *exec.Cmd
	output *tailBuffer
	exited chan struct{}
}

func startMinIO(ctx context.Context, bin, dataDir string) (*minioServer, error) {
	var lastErr error
	for range 3 { // the free port can be taken by someone else before MinIO binds it
		m, err := tryStartMinIO(ctx, bin, dataDir)
		if err == nil {
			return m, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStartMinIO(ctx context.Context, bin, dataDir string) (*minioServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	m := &minioServer{
		Endpoint:        "http://" + addr,
		AccessKeyID:     "bench" + randomHex(6),
		SecretAccessKey: randomHex(20),
		output:          &tailBuffer{},
		exited:          make(chan struct{}),
	}
	m.cmd = exec.Command(bin, "server", "--quiet",
		"--address", addr, "--console-address", "127.0.0.1:"+strconv.Itoa(consolePort), dataDir)
	m.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dataDir, // MinIO writes ~/.minio; keep it in the throwaway folder
		"MINIO_ROOT_USER=" + m.AccessKeyID,
		"MINIO_ROOT_PASSWORD=" + m.SecretAccessKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	}
	m.cmd.Stdout, m.cmd.Stderr = m.output, m.output
	// If the orchestrator dies (panic, ^C), the kernel kills MinIO too.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	go func() { _ = m.cmd.Wait(); close(m.exited) }()
	if err := m.waitLive(ctx, 60*time.Second); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// waitLive polls MinIO's liveness endpoint: a listening socket is not enough, MinIO
// answers 503 while it formats the drive.
func (m *minioServer) waitLive(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.Endpoint+"/minio/health/ready", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-m.exited:
			return fmt.Errorf("minio exited before it was ready: %s", m.output.String())
		case <-ctx.Done():
			return fmt.Errorf("minio not ready at %s: %w: %s", m.Endpoint, ctx.Err(), m.output.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Pid is used to read MinIO's CPU time around each measured copy.
func (m *minioServer) Pid() int { return m.cmd.Process.Pid }

// Stop terminates MinIO and waits for it, killing it after a grace period.
func (m *minioServer) Stop() {
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux (Go 1.24+ crashes rather than return an error)
	return hex.EncodeToString(b)
}

// tailBuffer keeps the last output of a child for error messages without growing forever.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		b.buf.Next(b.buf.Len() - 32<<10)
	}
	return b.buf.Write(p)
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
