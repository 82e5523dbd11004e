package standin

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// S3Region is the region the stand-in and its clients agree on.
const S3Region = "us-east-1"

// S3Server is a running S3 stand-in.
//
// It is versitygw v1.8.0 with its posix backend. Both candidates were
// checked against the rules the engine relies on (see s3_test.go, which
// keeps checking them): versitygw rejects PutObject and
// CompleteMultipartUpload with If-None-Match: * when the key exists (412),
// rejects non-final parts under 5 MiB (EntityTooSmall), and accepts and
// verifies a full-object CRC32C (ChecksumType FULL_OBJECT) on
// CompleteMultipartUpload. MinIO passes the same checks
// (STANDIN_S3=minio go test ./internal/...), but versitygw starts in about
// 0.2 s against MinIO's 2.5 s and builds in about 2 minutes against 6,
// which matters on a cold `make tools`.
type S3Server struct {
	Endpoint        string // http://127.0.0.1:PORT (https:// from StartS3TLS)
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	Dir             string         // the posix backend's root: one folder per bucket
	RootCAs         *x509.CertPool // trusts the server's certificate; nil over plain HTTP

	proc *process

	// With StartS3IAM: the reader accounts per bucket (see AddReader).
	iam     bool
	mu      sync.Mutex
	readers map[string][]AccessKey
}

// StartS3 starts versitygw on a free 127.0.0.1 port storing objects under
// dir (which must exist), and waits until it accepts connections. Close
// stops it. With STANDIN_S3=minio in the environment it starts MinIO
// instead, to run the same tests against the benchmark's destination.
func StartS3(ctx context.Context, dir string) (*S3Server, error) {
	if os.Getenv("STANDIN_S3") == "minio" {
		return StartMinIO(ctx, dir)
	}
	bin, err := ToolPath("versitygw")
	if err != nil {
		return nil, err
	}
	return retryFreePort(func() (*S3Server, error) { return startVersityGW(ctx, bin, dir, nil, nil) })
}

// retryFreePort retries a server start a few times: the free port it picked
// can be taken by another process before the child binds it.
func retryFreePort(start func() (*S3Server, error)) (*S3Server, error) {
	var lastErr error
	for range 3 {
		s, err := start()
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// newS3Server describes a stand-in about to listen on a free 127.0.0.1
// port, with fresh root credentials.
func newS3Server(dir, scheme string) (*S3Server, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return &S3Server{
		Endpoint:        scheme + "://" + addr,
		AccessKeyID:     "standin" + randomSecret(6),
		SecretAccessKey: randomSecret(20),
		Region:          S3Region,
		Dir:             dir,
	}, addr, nil
}

// startVersityGW starts versitygw, serving HTTPS with cert when it is set,
// with extra global options (before the backend command).
func startVersityGW(ctx context.Context, bin, dir string, cert *serverCert, extra []string) (*S3Server, error) {
	scheme := "http"
	if cert != nil {
		scheme = "https"
	}
	s, addr, err := newS3Server(dir, scheme)
	if err != nil {
		return nil, err
	}
	args := []string{"--port", addr, "--region", s.Region, "--quiet"}
	if cert != nil {
		args = append(args, "--cert", cert.certFile, "--key", cert.keyFile)
		s.RootCAs = cert.roots
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, append(args, "posix", dir)...)
	// Credentials go through the environment, not argv, so they do not show
	// up in process listings.
	cmd.Env = append(os.Environ(),
		"ROOT_ACCESS_KEY_ID="+s.AccessKeyID,
		"ROOT_SECRET_ACCESS_KEY="+s.SecretAccessKey)
	s.proc, err = startProcess("versitygw", cmd, nil)
	if err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.proc.waitTCP(waitCtx, addr); err != nil {
		_ = s.proc.stop()
		return nil, err
	}
	return s, nil
}

// Close stops the server and waits for it to exit. The data folder is left
// to its owner.
func (s *S3Server) Close() error {
	if err := s.proc.stop(); err != nil {
		return fmt.Errorf("stop versitygw: %w", err)
	}
	return nil
}

// Logs returns the server's recent output, for failure messages.
func (s *S3Server) Logs() string { return s.proc.output.String() }

// Pid is the server's process id (the benchmark reads its CPU time).
func (s *S3Server) Pid() int { return s.proc.Pid() }

// NewS3 starts an S3 stand-in in a temporary folder for the test and stops
// it when the test ends.
func NewS3(tb testing.TB) *S3Server {
	tb.Helper()
	s, err := StartS3(context.Background(), tb.TempDir())
	if err != nil {
		tb.Fatalf("start S3 stand-in: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
