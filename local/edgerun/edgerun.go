// Package edgerun runs the edge functions the template deploys, from the
// files that are deployed, under node for the local harness: the Lambda@Edge
// origin-response handler (lambda/edge/index.mjs, origin_response.go), the
// origin-request signer of a private source (the synthesized bundle,
// origin_request.go) and the viewer-request CloudFront Function
// (function.go). Each is staged into a fresh temporary folder the way the
// stack deploys it, hosted by one long-lived node process (one warm
// container) running runner.mjs, and called with events shaped like
// CloudFront's.
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

	"github.com/backtoorigin/backtoorigin/internal/supervise"
)

//go:embed runner.mjs
var runnerSource []byte

// Runner is a running node process hosting one function; its Invoke calls
// the origin-response handler (see Start).
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

// runnerSpec is what differs between the functions: how their staging
// folder is filled and what runner.mjs is told to load.
type runnerSpec struct {
	// prefix names the temporary staging folder.
	prefix string
	// stage fills the staging folder with the function's files (nil: the
	// function needs none there).
	stage func(dir string) error
	// args follow runner.mjs on node's command line: "function" <file>, or
	// "lambda" <module> <export> [<settings module> <deps JSON>].
	args []string
	// env is added to a minimal environment (PATH, HOME) for node.
	env []string
	// logs receives the function's stdout and stderr (nil: discarded).
	logs io.Writer
	// code names what the runner loads, for errors.
	code string
}

// startRunner stages a function into a fresh temporary folder beside
// runner.mjs and starts node on it. It returns once the function has loaded;
// on an error the folder is gone.
func startRunner(ctx context.Context, spec runnerSpec) (*Runner, error) {
	dir, err := os.MkdirTemp("", spec.prefix)
	if err != nil {
		return nil, fmt.Errorf("staging folder for %s: %w", spec.code, err)
	}
	r, err := stageAndLaunch(ctx, dir, spec)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

func stageAndLaunch(ctx context.Context, dir string, spec runnerSpec) (*Runner, error) {
	if spec.stage != nil {
		if err := spec.stage(dir); err != nil {
			return nil, err
		}
	}
	runner := filepath.Join(dir, "runner.mjs")
	if err := os.WriteFile(runner, runnerSource, 0o644); err != nil {
		return nil, fmt.Errorf("stage runner.mjs: %w", err)
	}
	return launch(ctx, dir, append([]string{runner}, spec.args...), spec.env, spec.logs, spec.code)
}

// linkNodeModules links dir/node_modules to edgeDir's: Lambda's Node.js
// runtime ships the AWS SDK, the deployed bundle does not. sdkPackage is the
// client the function imports, checked so a missing `npm ci` is named.
func linkNodeModules(dir, edgeDir, sdkPackage, what string) error {
	modules, err := filepath.Abs(filepath.Join(edgeDir, "node_modules"))
	if err != nil {
		return fmt.Errorf("locate edge node_modules: %w", err)
	}
	if _, err := os.Stat(filepath.Join(modules, "@aws-sdk", sdkPackage)); err != nil {
		return fmt.Errorf("the %s AWS SDK is missing (%w): run `npm ci` in %s", what, err, edgeDir)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		return fmt.Errorf("link node_modules: %w", err)
	}
	return nil
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

// hosted is a function other than the origin-response handler: its runner
// and the file it was loaded from, which names it in errors.
type hosted struct {
	runner *Runner
	file   string
}

// PID is the node process id, so callers can check it is gone.
func (h hosted) PID() int { return h.runner.PID() }

// Close ends the node process and removes its staging folder.
func (h hosted) Close() error { return h.runner.Close() }

// callForRequest runs a function that must let a request through and
// returns that request. A function that answered the viewer itself (its
// result O holds a response) is an error here: the front serves no
// responses generated by functions.
func callForRequest[R any, O interface{ request() (R, bool) }](ctx context.Context, h hosted, ev any, lc *Context) (R, error) {
	var zero R
	result, err := h.runner.call(ctx, ev, lc)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", h.file, err)
	}
	var out O
	if err := json.Unmarshal(result, &out); err != nil {
		return zero, fmt.Errorf("%s returned %s: %w", h.file, result, err)
	}
	req, ok := out.request()
	if !ok {
		return zero, fmt.Errorf("%s returned %s, not a request", h.file, result)
	}
	return req, nil
}

// FunctionARN is the ARN CloudFront reports for a replicated Lambda@Edge
// function version; the account is AWS's documentation placeholder.
func FunctionARN(functionName string, version int) string {
	return "arn:aws:lambda:us-east-1:123456789012:function:" + functionName + ":" + strconv.Itoa(version)
}
