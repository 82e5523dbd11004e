package standin

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// LocalSQSVersion is the npm package version the SQS stand-in runs. It
// speaks the JSON protocol current AWS SDKs use (goaws 0.4.4 does not).
const LocalSQSVersion = "2.0.2"

// SQSServer is a running local-aws-sqs server under node.
//
// It checks FIFO rules (group id required, deduplication within 5 minutes)
// and message attributes, but does not authenticate requests.
type SQSServer struct {
	Endpoint string // http://127.0.0.1:PORT

	proc *process
}

// sqsLauncher starts the server on the port given as argv and prints READY.
// It exits when its stdin closes, a second guard (after the parent-death
// signal) against outliving the test binary.
const sqsLauncher = `
const { createSqsServer } = require(process.argv[1]);
createSqsServer({ port: Number(process.argv[2]), hostname: "127.0.0.1", emulateQueueCreationLifecycle: false })
  .then(() => console.log("READY"))
  .catch((err) => { console.error(err); process.exit(1); });
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`

var sqsInstall sync.Mutex

// SQSPackageDir returns the folder local-aws-sqs is installed in,
// installing it with npm when it is missing (`make tools` does the same).
func SQSPackageDir(ctx context.Context) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	prefix := filepath.Join(root, ".tools", "sqs")
	pkg := filepath.Join(prefix, "node_modules", "local-aws-sqs")
	sqsInstall.Lock()
	defer sqsInstall.Unlock()
	if _, err := os.Stat(filepath.Join(pkg, "package.json")); err == nil {
		return pkg, nil
	}
	out, err := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund",
		"--prefix", prefix, "local-aws-sqs@"+LocalSQSVersion).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm install local-aws-sqs@%s (or run `make tools`): %w: %s", LocalSQSVersion, err, out)
	}
	return pkg, nil
}

// StartSQS starts local-aws-sqs on a free 127.0.0.1 port. Close stops it.
func StartSQS(ctx context.Context) (*SQSServer, error) {
	pkg, err := SQSPackageDir(ctx)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startLocalSQS(ctx, pkg)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startLocalSQS(ctx context.Context, pkg string) (*SQSServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "-e", sqsLauncher, pkg, strconv.Itoa(port))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("local-aws-sqs stdin: %w", err)
	}
	// It exits at the end of its standard input, which stop closes first.
	p, err := startProcess("local-aws-sqs", cmd, stdin)
	if err != nil {
		return nil, err
	}
	s := &SQSServer{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), proc: p}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for !strings.Contains(p.output.String(), "READY") {
		select {
		case <-p.Exited():
			return nil, fmt.Errorf("local-aws-sqs exited (%v): %s", p.Wait(), p.output.String())
		case <-waitCtx.Done():
			_ = p.stop()
			return nil, fmt.Errorf("local-aws-sqs not ready: %w: %s", waitCtx.Err(), p.output.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s, nil
}

// Close stops the server.
func (s *SQSServer) Close() error { return s.proc.stop() }

// NewSQS starts an SQS stand-in for a test and stops it at cleanup.
func NewSQS(tb testing.TB) *SQSServer {
	tb.Helper()
	s, err := StartSQS(context.Background())
	if err != nil {
		tb.Fatalf("start SQS stand-in: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Client returns an SQS client for the stand-in (any credentials work).
func (s *SQSServer) Client() *sqs.Client {
	return sqs.New(sqs.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       S3Region,
		Credentials:  credentials.NewStaticCredentialsProvider("standin", "standin", ""),
		HTTPClient:   &http.Client{Transport: &http.Transport{Proxy: nil}},
	})
}

// CreateQueue creates a queue and returns its URL. FIFO queues get the
// ".fifo" suffix AWS requires.
func (s *SQSServer) CreateQueue(ctx context.Context, name string, fifo bool) (string, error) {
	attrs := map[string]string{}
	if fifo {
		if !strings.HasSuffix(name, ".fifo") {
			name += ".fifo"
		}
		attrs["FifoQueue"] = "true"
	}
	out, err := s.Client().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %q: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}
