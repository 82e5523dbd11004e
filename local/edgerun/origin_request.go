package edgerun

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/edgebundle"
)

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
type OriginRequestRunner struct{ hosted }

// StartOriginRequest stages the bundle into a fresh temporary folder and
// starts node on it.
func StartOriginRequest(ctx context.Context, opts OriginRequestOptions) (*OriginRequestRunner, error) {
	base, export, ok := strings.Cut(opts.Handler, ".")
	if !ok || base == "" || export == "" || strings.ContainsAny(base, `/\`) {
		return nil, fmt.Errorf("handler %q is not file.export", opts.Handler)
	}
	file := base + ".mjs"
	args := []string{"lambda", file, export}
	if opts.KeyTTL > 0 {
		args = append(args, edgebundle.OriginRequestSettings, fmt.Sprintf(`{"keyTtlMs":%d}`, opts.KeyTTL.Milliseconds()))
	}
	code := filepath.Join(opts.Bundle, file)
	r, err := startRunner(ctx, runnerSpec{
		prefix: "origin-request-",
		stage:  func(dir string) error { return stageOriginRequest(dir, opts, file) },
		args:   args,
		env:    opts.Env,
		logs:   opts.Logs,
		code:   code,
	})
	if err != nil {
		return nil, err
	}
	return &OriginRequestRunner{hosted{runner: r, file: code}}, nil
}

// stageOriginRequest copies the bundle's files into dir, as deployed.
func stageOriginRequest(dir string, opts OriginRequestOptions, file string) error {
	entries, err := os.ReadDir(opts.Bundle)
	if err != nil {
		return fmt.Errorf("origin-request bundle: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(opts.Bundle, e.Name()))
		if err != nil {
			return fmt.Errorf("origin-request bundle: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return fmt.Errorf("stage origin-request bundle: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
		return fmt.Errorf("the bundle has no %s: %w", file, err)
	}
	return linkNodeModules(dir, opts.EdgeDir, "client-secrets-manager", "origin-request function's")
}

// OriginRequest runs the function on an origin-request event and returns
// the request it lets through to the origin. A function that answers the
// viewer itself (a response object) is an error here: the front serves no
// generated responses from origin-request functions.
func (o *OriginRequestRunner) OriginRequest(ctx context.Context, ev RequestEvent, lc Context) (Request, error) {
	return callForRequest[Request, originRequestResult](ctx, o.hosted, ev, &lc)
}

// originRequestResult is a request, or a response (status) if the function
// answered the viewer itself.
type originRequestResult struct {
	Request
	Status *string `json:"status"`
}

func (r originRequestResult) request() (Request, bool) {
	return r.Request, r.Status == nil && r.URI != ""
}
