// Command demomigrate shows the migration finishing on this machine (`make
// demo-migrate`): the whole local system (see local/harness), a GCS bucket
// of objects no viewer ever requested, `backtoorigin backfill` queuing them
// with its progress display, the real transfer function copying them, and
// `backtoorigin verify` proving S3 complete, with its report. It exits when
// done, or at Ctrl-C, and leaves no process running.
//
// It is a demo harness; nothing here is deployed.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
	"github.com/backtoorigin/backtoorigin/local/consumer"
	"github.com/backtoorigin/backtoorigin/local/harness"
)

func main() {
	objects := flag.Int("objects", 2000, "never-requested objects in the GCS bucket")
	flag.Parse()
	if err := run(*objects); err != nil {
		fmt.Fprintln(os.Stderr, "demo-migrate:", err)
		os.Exit(1)
	}
}

func run(objects int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	var copied int
	h, err := harness.Start(ctx, harness.Options{
		Instances: 2, TransferEnv: []string{transferlambda.EnvBatchConcurrency + "=8"},
		OnDelivery: func(d consumer.Delivery) { copied += len(d.Records) - len(d.Failed) },
	})
	if err != nil {
		return err
	}
	defer func() {
		_ = h.Close()
		fmt.Println("stopped: every stand-in and function process has exited")
	}()

	root, err := standin.ModuleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "demo-migrate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "backtoorigin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/backtoorigin")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build backtoorigin: %v: %s", err, out)
	}

	var total int64
	for i := range objects {
		body := make([]byte, 1000+(i*7919)%200_000)
		_, _ = rand.Read(body)
		key := fmt.Sprintf("archive/%02d/photo-%05d.jpg", i%40, i)
		if _, err := h.GCS.PutObject(standin.GCSObject{Bucket: harness.GCSBucket, Key: key, Content: body, ContentType: "image/jpeg"}); err != nil {
			return err
		}
		total += int64(len(body))
	}
	fmt.Printf("ready in %.1f s. The GCS bucket %q holds %d objects (%.1f MB) no viewer ever requested; S3 holds none.\n\n",
		time.Since(started).Seconds(), harness.GCSBucket, objects, float64(total)/1e6)

	cli := func(args ...string) error {
		fmt.Printf("$ backtoorigin %s\n", joinArgs(args))
		cmd := exec.CommandContext(ctx, bin, append(args,
			"--bucket", harness.S3Bucket, "--source-bucket", harness.GCSBucket, "--source-endpoint", h.GCS.URL,
			"--queue-url", h.QueueURL, "--dlq-url", h.DeadLetterQueueURL)...)
		cmd.Env = append(os.Environ(),
			"AWS_ACCESS_KEY_ID="+h.S3.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+h.S3.SecretAccessKey, "AWS_REGION="+harness.Region,
			"AWS_ENDPOINT_URL_S3="+h.S3.Endpoint, "AWS_ENDPOINT_URL_SQS="+h.SQS.Endpoint, "AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE="+filepath.Join(work, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(work, "none"),
			"XDG_CACHE_HOME="+filepath.Join(work, "cache"))
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		err := cmd.Run()
		fmt.Println()
		return err
	}
	report := filepath.Join(work, "report.jsonl")
	// Exit status 1: differences, as expected before the backfill.
	if err := cli("verify", "--report", report); err != nil && !isExit(err, 1) {
		return err
	}
	if err := showReport(report, 5); err != nil {
		return err
	}
	if err := cli("backfill", "--dry-run"); err != nil {
		return err
	}
	if err := cli("backfill", "--max-queued", "500"); err != nil {
		return err
	}
	fmt.Println("the transfer function copies what was queued...")
	for {
		d, err := h.QueueDepth(ctx, h.QueueURL)
		if err != nil {
			return err
		}
		if d == 0 {
			break
		}
		fmt.Printf("\r%d messages still queued, %d copied so far   ", d, copied)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	fmt.Printf("\rthe queue is empty: %d copied                      \n\n", copied)
	if err := cli("verify", "--deep", "--report", report); err != nil {
		return err
	}
	return showReport(report, 5)
}

func isExit(err error, code int) bool {
	var exit *exec.ExitError
	return errors.As(err, &exit) && exit.ExitCode() == code
}

// showReport prints the first lines of a verify report.
func showReport(path string, n int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if lines < n {
			fmt.Println("  " + sc.Text())
		}
		lines++
	}
	fmt.Printf("report %s: %d keys that differ, one JSON line each\n\n", path, lines)
	return sc.Err()
}

func joinArgs(args []string) string {
	out := ""
	for i, a := range args {
		if i > 0 {
			out += " "
		}
		out += a
	}
	return out
}
