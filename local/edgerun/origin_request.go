package edgerun

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed origin_request_runner.mjs
var originRequestRunnerSource []byte

// OriginRequestOptions says which origin-request bundle to run.
type OriginRequestOptions struct {
	// Bundle is the synthesized asset folder of the function
	// (cfn.EdgeFunction.Bundle): its files are staged as deployed, baked
	// settings included.
	Bundle string
	// Handler is the function's handler setting, "file.export" with the
	// file's extension left out ("origin-request.handler").
	Handler string
	// EdgeDir is lambda/edge: its node_modules stands in for the AWS SDK the
	// Lambda runtime provides.
	EdgeDir string
	// KeyTTL, if set, replaces the key cache's TTL through
	// createHandler(settings, {keyTtlMs}), the test hook origin-request.mjs
	// documents; zero runs the exported handler exactly as deployed.
	KeyTTL time.Duration
	// Env is added to a minimal environment (PATH, HOME) for node.
	Env []string
	// Logs receives the function's output (nil: discarded).
	Logs io.Writer
}

// OriginRequestRunner is a running node process hosting an origin-request
// function (one warm Lambda@Edge container).
type OriginRequestRunner struct {
	runner *Runner
	file   string
}

// StartOriginRequest stages the bundle into a fresh temporary folder and
// starts node on it.
func StartOriginRequest(ctx context.Context, opts OriginRequestOptions) (*OriginRequestRunner, error) {
	base, export, ok := strings.Cut(opts.Handler, ".")
	if !ok || base == "" || export == "" || strings.ContainsAny(base, `/\`) {
		return nil, fmt.Errorf("handler %q is not file.export", opts.Handler)
	}
	file := base + ".mjs"
	dir, err := os.MkdirTemp("", "origin-request-")
	if err != nil {
		return nil, fmt.Errorf("origin-request staging folder: %w", err)
	}
	r, err := startOriginRequest(ctx, opts, dir, file, export)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &OriginRequestRunner{runner: r, file: filepath.Join(opts.Bundle, file)}, nil
}

func startOriginRequest(ctx context.Context, opts OriginRequestOptions, dir, file, export string) (*Runner, error) {
	entries, err := os.ReadDir(opts.Bundle)
	if err != nil {
		return nil, fmt.Errorf("origin-request bundle: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(opts.Bundle, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("origin-request bundle: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return nil, fmt.Errorf("stage origin-request bundle: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
		return nil, fmt.Errorf("the bundle has no %s: %w", file, err)
	}
	runner := filepath.Join(dir, "origin_request_runner.mjs")
	if err := os.WriteFile(runner, originRequestRunnerSource, 0o644); err != nil {
		return nil, fmt.Errorf("stage origin_request_runner.mjs: %w", err)
	}
	modules, err := filepath.Abs(filepath.Join(opts.EdgeDir, "node_modules"))
	if err != nil {
		return nil, fmt.Errorf("locate edge node_modules: %w", err)
	}
	if _, err := os.Stat(filepath.Join(modules, "@aws-sdk", "client-secrets-manager")); err != nil {
		return nil, fmt.Errorf("the origin-request function's AWS SDK is missing (%w): run `npm ci` in %s", err, opts.EdgeDir)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		return nil, fmt.Errorf("link node_modules: %w", err)
	}
	args := []string{runner, dir, file, export}
	if opts.KeyTTL > 0 {
		args = append(args, strconv.FormatInt(opts.KeyTTL.Milliseconds(), 10))
	}
	return launch(ctx, dir, args, opts.Env, opts.Logs, filepath.Join(opts.Bundle, file))
}

// OriginRequest runs the function on an origin-request event and returns
// the request it lets through to the origin. A function that answers the
// viewer itself (a response object) is an error here: the front serves no
// generated responses from origin-request functions.
func (o *OriginRequestRunner) OriginRequest(ctx context.Context, ev RequestEvent, lc Context) (Request, error) {
	result, err := o.runner.call(ctx, ev, &lc)
	if err != nil {
		return Request{}, fmt.Errorf("%s: %w", o.file, err)
	}
	var out struct {
		Request
		Status *string `json:"status"`
	}
	if err := json.Unmarshal(result, &out); err != nil {
		return Request{}, fmt.Errorf("%s returned %s: %w", o.file, result, err)
	}
	if out.Status != nil || out.URI == "" {
		return Request{}, fmt.Errorf("%s returned %s, not a request", o.file, result)
	}
	return out.Request, nil
}

// PID is the node process id, so callers can check it is gone.
func (o *OriginRequestRunner) PID() int { return o.runner.PID() }

// Close ends the node process and removes its staging folder.
func (o *OriginRequestRunner) Close() error { return o.runner.Close() }
