package lambdart

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

type fnResponse struct {
	Mode        string `json:"mode"`
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	DeadlineMs  int64  `json:"deadlineMs"`
	PID         int    `json:"pid"`
	Leak        string `json:"leak"`
	Name        string `json:"name"`
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// testFunction builds testdata/fn once per test binary.
func testFunction(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := standin.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "lambdart-test-")
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		binary, buildErr = Build(ctx, root, "./local/lambdart/testdata/fn", dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

func startTestFunction(t *testing.T, timeout time.Duration) *Instance {
	t.Helper()
	bin := testFunction(t)
	// The function must not inherit the caller's environment, as on Lambda.
	t.Setenv("LAMBDART_TEST_LEAK", "leaked")
	in, err := Start(Function{
		Binary:  bin,
		Name:    "test-fn",
		ARN:     "arn:aws:lambda:us-east-1:123456789012:function:test-fn",
		Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close() })
	return in
}

func invoke(t *testing.T, in *Instance, mode string) (fnResponse, error) {
	t.Helper()
	payload, _ := json.Marshal(map[string]string{"mode": mode})
	out, err := in.Invoke(context.Background(), payload)
	var resp fnResponse
	if err == nil {
		if jerr := json.Unmarshal(out, &resp); jerr != nil {
			t.Fatalf("response %s: %v", out, jerr)
		}
	}
	return resp, err
}

func TestInvokeDeliversContextAndIsolatesEnvironment(t *testing.T) {
	in := startTestFunction(t, 5*time.Second)
	before := time.Now()
	resp, err := invoke(t, in, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if resp.FunctionARN != "arn:aws:lambda:us-east-1:123456789012:function:test-fn" || resp.Name != "test-fn" {
		t.Errorf("context: ARN %q, name %q", resp.FunctionARN, resp.Name)
	}
	if resp.RequestID == "" {
		t.Error("no request id")
	}
	deadline := time.UnixMilli(resp.DeadlineMs)
	if d := deadline.Sub(before); d < 4*time.Second || d > 6*time.Second {
		t.Errorf("deadline %s after the call, want about the 5s timeout", d)
	}
	if resp.Leak != "" {
		t.Errorf("the function saw the caller's environment: %q", resp.Leak)
	}
	again, err := invoke(t, in, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if again.PID != resp.PID || again.RequestID == resp.RequestID {
		t.Errorf("second invocation: pid %d (was %d), request %q (was %q): want the same warm process and a new request id", again.PID, resp.PID, again.RequestID, resp.RequestID)
	}
}

func TestHandlerErrorIsAFunctionError(t *testing.T) {
	in := startTestFunction(t, 5*time.Second)
	_, err := invoke(t, in, "error")
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Payload == "" {
		t.Fatalf("got %v, want a FunctionError with the handler's message", err)
	}
}

func TestTimeoutAndCrashReplaceTheProcess(t *testing.T) {
	in := startTestFunction(t, 1500*time.Millisecond)
	first, err := invoke(t, in, "echo")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = invoke(t, in, "sleep")
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" {
		t.Fatalf("sleeping past the deadline: got %v, want Sandbox.Timedout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout reported after %s, want about 1.5s", d)
	}
	if processAlive(first.PID) {
		t.Errorf("timed-out process %d still running", first.PID)
	}
	second, err := invoke(t, in, "echo")
	if err != nil {
		t.Fatalf("after a timeout: %v", err)
	}
	if second.PID == first.PID {
		t.Error("a timed-out environment was reused")
	}
	_, err = invoke(t, in, "crash")
	if !errors.As(err, &fe) || fe.Type != "Runtime.ExitError" {
		t.Fatalf("crash: got %v, want Runtime.ExitError", err)
	}
	if _, err := invoke(t, in, "echo"); err != nil {
		t.Fatalf("after a crash: %v", err)
	}
}

func TestCloseLeavesNoProcess(t *testing.T) {
	in := startTestFunction(t, 5*time.Second)
	resp, err := invoke(t, in, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if !processAlive(resp.PID) {
		t.Fatal("function process not running while warm")
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if processAlive(resp.PID) {
		t.Errorf("process %d still running after Close", resp.PID)
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}

// The cold start is measured from the process start to its first Runtime
// API call, and only once per process: a warm invocation does not move it.
func TestColdStartIsInitOnly(t *testing.T) {
	started := time.Now()
	in := startTestFunction(t, 5*time.Second)
	if _, err := invoke(t, in, "echo"); err != nil {
		t.Fatal(err)
	}
	cold, ok := in.ColdStart()
	if !ok || cold <= 0 || cold > time.Since(started) {
		t.Fatalf("cold start %s (%v), want a positive time within the %s since the start", cold, ok, time.Since(started))
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := invoke(t, in, "echo"); err != nil {
		t.Fatal(err)
	}
	if again, _ := in.ColdStart(); again != cold {
		t.Fatalf("cold start moved from %s to %s with a warm invocation", cold, again)
	}
}
