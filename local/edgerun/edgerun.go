// Package edgerun runs the real Lambda@Edge origin-response handler
// (lambda/edge/index.mjs, the file that is deployed) under node for the
// local harness. It stages the handler beside a settings.mjs written the way
// the CDK stack writes it at synth, starts one long-lived node process (one
// warm Lambda@Edge container) and invokes the handler with events shaped like
// CloudFront's. It also runs a CloudFront Function file (function.go), the
// viewer-request function the front calls first.
//
// This is a test and demo harness; nothing here is deployed.
package edgerun

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/edgebundle"
	"github.com/backtoorigin/backtoorigin/internal/supervise"
)

//go:embed runner.mjs
var runnerSource []byte

// Settings are the values the stack bakes into the bundle.
type Settings = edgebundle.Settings

// Options says what to stage and how to run it.
type Options struct {
	// EdgeDir is lambda/edge: index.mjs is copied from it, and its
	// node_modules stands in for the AWS SDK the Lambda runtime provides.
	EdgeDir  string
	Settings Settings
	// QueueURL, when set, is injected through createHandler(settings,
	// {queueUrl}) because the handler would otherwise derive the real
	// https://sqs.<region>.amazonaws.com URL from the function ARN.
	QueueURL string
	// Env is added to a minimal environment (PATH, HOME) for node.
	Env []string
	// Logs receives the handler's stdout and stderr (nil: discarded).
	Logs io.Writer
}

// Runner is a running node process hosting the handler.
type Runner struct {
	proc    *supervise.Process
	stdin   io.WriteCloser
	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  int
	pending map[int]chan reply
	closed  bool

	exited <-chan struct{}
	dir    string
}

type reply struct {
	ID     int             `json:"id"`
	Ready  bool            `json:"ready"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// Stage copies the deployed files into dir: index.mjs from edgeDir and a
// settings.mjs holding settings, plus the runner. Lambda's Node.js runtime
// ships the AWS SDK; locally node_modules links to lambda/edge's.
func Stage(dir, edgeDir string, settings Settings) error {
	if err := edgebundle.Write(dir, edgeDir, settings, "the local harness, as the CDK stack writes it at synth"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "runner.mjs"), runnerSource, 0o644); err != nil {
		return fmt.Errorf("stage runner.mjs: %w", err)
	}
	modules, err := filepath.Abs(filepath.Join(edgeDir, "node_modules"))
	if err != nil {
		return fmt.Errorf("locate edge node_modules: %w", err)
	}
	if _, err := os.Stat(filepath.Join(modules, "@aws-sdk", "client-sqs")); err != nil {
		return fmt.Errorf("the edge handler's AWS SDK is missing (%w): run `npm ci` in %s", err, edgeDir)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		return fmt.Errorf("link node_modules: %w", err)
	}
	return nil
}

// Start stages the handler into a fresh temporary folder and starts node.
// It returns once the handler module has loaded.
func Start(ctx context.Context, cfg Options) (*Runner, error) {
	dir, err := os.MkdirTemp("", "edgerun-")
	if err != nil {
		return nil, fmt.Errorf("edge staging folder: %w", err)
	}
	r, err := start(ctx, cfg, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

func start(ctx context.Context, cfg Options, dir string) (*Runner, error) {
	if err := Stage(dir, cfg.EdgeDir, cfg.Settings); err != nil {
		return nil, err
	}
	args := []string{filepath.Join(dir, "runner.mjs"), dir}
	if cfg.QueueURL != "" {
		args = append(args, cfg.QueueURL)
	}
	return launch(ctx, dir, args, cfg.Env, cfg.Logs, filepath.Join(cfg.EdgeDir, "index.mjs"))
}

// launch starts node on a runner script staged in dir (args[0]) that
// speaks the line protocol of runner.mjs, and waits for it to report ready.
// code names what the runner loads, for the error when it does not start.
func launch(ctx context.Context, dir string, args, env []string, logs io.Writer, code string) (*Runner, error) {
	replies, replyWriter, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("reply pipe: %w", err)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = dir
	// Lambda@Edge has no user environment; node gets only what it needs
	// plus what the caller adds (dummy credentials, region).
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	if logs == nil {
		logs = io.Discard
	}
	cmd.Stdout = logs
	cmd.Stderr = logs
	cmd.ExtraFiles = []*os.File{replyWriter} // fd 3 in the child
	stdin, err := cmd.StdinPipe()
	if err != nil {
		replies.Close()
		replyWriter.Close()
		return nil, fmt.Errorf("node stdin: %w", err)
	}
	// Its own process group keeps a terminal's Ctrl-C from killing it under
	// the harness, which stops it in order.
	proc, err := supervise.Start(cmd, supervise.Options{Name: "node runner for " + code, OwnGroup: true})
	if err != nil {
		replies.Close()
		replyWriter.Close()
		return nil, err
	}
	replyWriter.Close() // the child holds its own copy

	r := &Runner{proc: proc, stdin: stdin, pending: map[int]chan reply{}, exited: proc.Exited(), dir: dir}
	ready := make(chan struct{})
	go r.readReplies(replies, ready)
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case <-ready:
		return r, nil
	case <-r.exited:
		return nil, fmt.Errorf("node runner exited while loading %s (see its output)", code)
	case <-timer.C:
		r.kill()
		return nil, fmt.Errorf("node runner for %s not ready after 15s", code)
	case <-ctx.Done():
		r.kill()
		return nil, ctx.Err()
	}
}

func (r *Runner) readReplies(from *os.File, ready chan struct{}) {
	defer from.Close()
	sc := bufio.NewScanner(from)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rep reply
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			continue
		}
		if rep.Ready {
			close(ready)
			continue
		}
		r.mu.Lock()
		ch := r.pending[rep.ID]
		delete(r.pending, rep.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- rep
		}
	}
	// The process is gone: fail whoever still waits.
	r.mu.Lock()
	r.closed = true
	for id, ch := range r.pending {
		ch <- reply{ID: id, Error: "node runner exited"}
		delete(r.pending, id)
	}
	r.mu.Unlock()
}

// Invoke runs the handler on one event and returns the response it returned.
func (r *Runner) Invoke(ctx context.Context, ev Event, lc Context) (Response, error) {
	result, err := r.call(ctx, ev, &lc)
	if err != nil {
		return Response{}, err
	}
	var resp Response
	if err := json.Unmarshal(result, &resp); err != nil {
		return Response{}, fmt.Errorf("edge handler returned %s: %w", result, err)
	}
	return resp, nil
}

// call sends one event (and the Lambda context, if any) and waits for the
// handler's result.
func (r *Runner) call(ctx context.Context, ev any, lc *Context) (json.RawMessage, error) {
	ch := make(chan reply, 1)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errors.New("node runner is closed")
	}
	r.nextID++
	id := r.nextID
	r.pending[id] = ch
	r.mu.Unlock()

	line, err := json.Marshal(struct {
		ID      int      `json:"id"`
		Event   any      `json:"event"`
		Context *Context `json:"context,omitempty"`
	}{id, ev, lc})
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	r.writeMu.Lock()
	_, err = r.stdin.Write(append(line, '\n'))
	r.writeMu.Unlock()
	if err != nil {
		r.forget(id)
		return nil, fmt.Errorf("send event: %w", err)
	}
	select {
	case rep := <-ch:
		if rep.Error != "" {
			return nil, fmt.Errorf("handler failed: %s", rep.Error)
		}
		return rep.Result, nil
	case <-ctx.Done():
		r.forget(id)
		return nil, fmt.Errorf("handler: %w", ctx.Err())
	}
}

func (r *Runner) forget(id int) {
	r.mu.Lock()
	delete(r.pending, id)
	r.mu.Unlock()
}

// PID is the node process id, so callers can check it is gone.
func (r *Runner) PID() int { return r.proc.Pid() }

// Close ends the node process (closing stdin asks it to exit; it is killed
// after a grace period) and removes the staging folder.
func (r *Runner) Close() error {
	r.writeMu.Lock()
	_ = r.stdin.Close()
	r.writeMu.Unlock()
	select {
	case <-r.exited:
	case <-time.After(3 * time.Second):
		r.kill()
	}
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("remove edge staging folder: %w", err)
	}
	return nil
}

func (r *Runner) kill() { r.proc.Kill() }

// FunctionARN is the ARN CloudFront reports for a replicated Lambda@Edge
// function version; the account is AWS's documentation placeholder.
func FunctionARN(functionName string, version int) string {
	return "arn:aws:lambda:us-east-1:123456789012:function:" + functionName + ":" + strconv.Itoa(version)
}
