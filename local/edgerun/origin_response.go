package edgerun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/backtoorigin/backtoorigin/internal/edgebundle"
)

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

// Stage copies the deployed files into dir: index.mjs from edgeDir and a
// settings.mjs holding settings. Lambda's Node.js runtime ships the AWS SDK;
// locally node_modules links to lambda/edge's.
func Stage(dir, edgeDir string, settings Settings) error {
	if err := edgebundle.Write(dir, edgeDir, settings, "the local harness, as the CDK stack writes it at synth"); err != nil {
		return err
	}
	return linkNodeModules(dir, edgeDir, "client-sqs", "edge handler's")
}

// Start stages the origin-response handler into a fresh temporary folder
// and starts node. It returns once the handler module has loaded.
func Start(ctx context.Context, cfg Options) (*Runner, error) {
	args := []string{"lambda", "index.mjs", "handler"}
	if cfg.QueueURL != "" {
		deps, err := json.Marshal(map[string]string{"queueUrl": cfg.QueueURL})
		if err != nil {
			return nil, fmt.Errorf("encode the handler's queue URL: %w", err)
		}
		args = append(args, "settings.mjs", string(deps))
	}
	return startRunner(ctx, runnerSpec{
		prefix: "edgerun-",
		stage:  func(dir string) error { return Stage(dir, cfg.EdgeDir, cfg.Settings) },
		args:   args,
		env:    cfg.Env,
		logs:   cfg.Logs,
		code:   filepath.Join(cfg.EdgeDir, "index.mjs"),
	})
}

// Invoke runs the origin-response handler on one event and returns the
// response it returned.
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
