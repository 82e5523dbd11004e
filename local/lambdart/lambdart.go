// Package lambdart runs a Lambda function binary (a provided.al2023
// "bootstrap" built with aws-lambda-go) the way the Lambda service does: as
// a child process that pulls invocations from a Runtime API served here
// (AWS_LAMBDA_RUNTIME_API), with the invocation deadline in
// Lambda-Runtime-Deadline-Ms, the function's environment and nothing else.
//
// Driving the real binary instead of calling its Go handler keeps the
// harness honest about main.go too: environment parsing, client setup, the
// norpc build. It is a test and demo harness; nothing here is deployed.
package lambdart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/supervise"
)

const apiPrefix = "/2018-06-01/runtime/"

// Function describes one Lambda function.
type Function struct {
	Binary      string        // path to the bootstrap executable
	Name        string        // AWS_LAMBDA_FUNCTION_NAME
	ARN         string        // Lambda-Runtime-Invoked-Function-Arn
	Timeout     time.Duration // per invocation, as configured on the function
	MemoryMB    int
	Env         []string  // the function's environment variables
	Logs        io.Writer // the function's stdout/stderr (CloudWatch Logs); nil discards
	ShutdownDur time.Duration
}

// FunctionError is an invocation that ended in an error: the handler
// returned one, panicked, timed out, or the process died.
type FunctionError struct {
	Type    string
	Payload string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Payload)
}

// Instance is one execution environment: one process, one invocation at a
// time, restarted after a crash or a timeout as Lambda does.
type Instance struct {
	fn  Function
	srv *http.Server
	ln  net.Listener

	invocations chan *invocation // handed to GET /next

	mu       sync.Mutex
	current  *invocation
	proc     *supervise.Process
	procDone <-chan struct{}
	initErr  string
	reqSeq   int
	closed   bool
	// started is when the current process was started, firstAPICall when
	// it first called the Runtime API: the function's init (cold start).
	started, firstAPICall time.Time
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan result
	once     sync.Once
}

type result struct {
	body []byte
	err  error
}

func (inv *invocation) finish(r result) {
	inv.once.Do(func() { inv.done <- r })
}

// Start serves a Runtime API on 127.0.0.1 and starts the function process.
func Start(fn Function) (*Instance, error) {
	if fn.Logs == nil {
		fn.Logs = io.Discard
	}
	if fn.MemoryMB == 0 {
		fn.MemoryMB = 1024
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime API listener: %w", err)
	}
	in := &Instance{fn: fn, ln: ln, invocations: make(chan *invocation)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"invocation/next", in.next)
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/response", in.response)
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/error", in.invocationError)
	mux.HandleFunc("POST "+apiPrefix+"init/error", in.initError)
	in.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = in.srv.Serve(ln) }()
	if err := in.startProcess(); err != nil {
		in.srv.Close()
		return nil, err
	}
	return in, nil
}

func (in *Instance) startProcess() error {
	cmd := exec.Command(in.fn.Binary)
	cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + in.ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + in.fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(in.fn.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + in.fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME=local",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"TZ=:UTC",
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}, in.fn.Env...)
	cmd.Stdout = in.fn.Logs
	cmd.Stderr = in.fn.Logs
	// Its own process group keeps a terminal's Ctrl-C from killing it under
	// the harness, which stops it in order.
	started := time.Now()
	proc, err := supervise.Start(cmd, supervise.Options{Name: "function " + in.fn.Name, OwnGroup: true})
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.proc, in.procDone, in.initErr = proc, proc.Exited(), ""
	in.started, in.firstAPICall = started, time.Time{}
	in.mu.Unlock()
	go func() {
		err := proc.Wait()
		in.mu.Lock()
		cur := in.current
		in.mu.Unlock()
		if cur != nil {
			cur.finish(result{err: &FunctionError{Type: "Runtime.ExitError", Payload: fmt.Sprintf("process exited: %v", err)}})
		}
	}()
	return nil
}

// PID is the current function process id (0 if none).
func (in *Instance) PID() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.proc == nil {
		return 0
	}
	return in.proc.Pid()
}

// KillIfBusy kills the function process with SIGKILL if an invocation is
// running (a crash mid-copy, an out-of-memory kill) and reports whether it
// did. The invocation ends as Runtime.ExitError; the next Invoke starts a
// new process, as Lambda replaces a dead environment.
func (in *Instance) KillIfBusy() bool {
	in.mu.Lock()
	busy, proc := in.current != nil, in.proc
	in.mu.Unlock()
	if !busy || proc == nil {
		return false
	}
	return proc.Cmd.Process.Kill() == nil
}

// Invoke runs one invocation and returns the function's response payload.
// A function error comes back as *FunctionError.
func (in *Instance) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil, errors.New("instance closed")
	}
	select {
	case <-in.procDone:
		// Lambda replaces an environment whose process died (crash, timeout).
		in.mu.Unlock()
		if err := in.startProcess(); err != nil {
			return nil, err
		}
		in.mu.Lock()
	default:
	}
	in.reqSeq++
	inv := &invocation{
		id:       fmt.Sprintf("%08x-local-%d", time.Now().UnixNano()&0xffffffff, in.reqSeq),
		payload:  payload,
		deadline: time.Now().Add(in.fn.Timeout),
		done:     make(chan result, 1),
	}
	in.current = inv
	procDone := in.procDone
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.current = nil
		in.mu.Unlock()
	}()

	timer := time.NewTimer(in.fn.Timeout)
	defer timer.Stop()
	select {
	case in.invocations <- inv:
	case <-procDone:
		in.mu.Lock()
		msg := in.initErr
		in.mu.Unlock()
		if msg == "" {
			msg = "process exited before asking for an invocation"
		}
		return nil, &FunctionError{Type: "Runtime.InitError", Payload: msg}
	case <-timer.C:
		in.kill()
		return nil, &FunctionError{Type: "Sandbox.Timedout", Payload: "init did not finish before the timeout"}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-inv.done:
		return r.body, r.err
	case <-timer.C:
		// Lambda stops the environment at the deadline.
		in.kill()
		return nil, &FunctionError{Type: "Sandbox.Timedout", Payload: fmt.Sprintf("task timed out after %s", in.fn.Timeout)}
	case <-ctx.Done():
		in.kill()
		return nil, ctx.Err()
	}
}

// ColdStart is how long the current process took from its start to its
// first Runtime API call (its init: environment, clients, handler); false
// until it has made one.
func (in *Instance) ColdStart() (time.Duration, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.firstAPICall.IsZero() {
		return 0, false
	}
	return in.firstAPICall.Sub(in.started), true
}

func (in *Instance) next(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	if in.firstAPICall.IsZero() {
		in.firstAPICall = time.Now()
	}
	in.mu.Unlock()
	select {
	case inv := <-in.invocations:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", in.fn.ARN)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

func (in *Instance) lookup(id string) *invocation {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.current != nil && in.current.id == id {
		return in.current
	}
	return nil
}

func (in *Instance) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	inv := in.lookup(r.PathValue("id"))
	if inv == nil || err != nil {
		http.Error(w, "unknown invocation", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	inv.finish(result{body: body})
}

func (in *Instance) invocationError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	inv := in.lookup(r.PathValue("id"))
	if inv == nil {
		http.Error(w, "unknown invocation", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	inv.finish(result{err: &FunctionError{Type: r.Header.Get("Lambda-Runtime-Function-Error-Type"), Payload: strings.TrimSpace(string(body))}})
}

func (in *Instance) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	in.mu.Lock()
	in.initErr = strings.TrimSpace(string(body))
	in.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (in *Instance) kill() {
	in.mu.Lock()
	proc := in.proc
	in.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
}

// Close stops the function process (SIGTERM, then SIGKILL after the grace
// period, as Lambda's shutdown phase does) and the Runtime API.
func (in *Instance) Close() error {
	in.mu.Lock()
	in.closed = true
	proc := in.proc
	in.mu.Unlock()
	if proc != nil {
		grace := in.fn.ShutdownDur
		if grace == 0 {
			grace = 2 * time.Second
		}
		proc.Stop(grace)
	}
	return in.srv.Close()
}

// Build compiles a Lambda main package for this machine the way the
// Makefile builds it for Lambda (norpc, static), into dir.
func Build(ctx context.Context, moduleRoot, pkg, dir string) (string, error) {
	out := dir + "/bootstrap"
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", out, pkg)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", pkg, err, b)
	}
	return out, nil
}
