package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/backtoorigin/backtoorigin/local/lambdart"
)

// measureColdStart starts the real transfer function binary (built as the
// Makefile builds it, for this machine) under local/lambdart n times and
// returns, for each start, the time from the process start to its first
// Runtime API call: reading the environment, building the SDK clients and
// the handler, everything Lambda bills as init.
func measureColdStart(ctx context.Context, root, tmp string, n int) ([]time.Duration, error) {
	dir := filepath.Join(tmp, "transfer-fn")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	bin, err := lambdart.Build(ctx, root, "./lambda/transfer", dir)
	if err != nil {
		return nil, err
	}
	var out []time.Duration
	for range n {
		in, err := lambdart.Start(lambdart.Function{
			Binary: bin, Name: "transfer", ARN: "arn:aws:lambda:us-east-1:000000000000:function:transfer", Timeout: time.Minute,
			Env: []string{
				"DESTINATION_BUCKET=dst", "SOURCE_BUCKET=src", "QUEUE_URL=http://127.0.0.1:1/q", "DEAD_LETTER_QUEUE_URL=http://127.0.0.1:1/dlq",
				"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench",
				"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
			},
			Logs: io.Discard,
		})
		if err != nil {
			return nil, err
		}
		deadline := time.Now().Add(30 * time.Second)
		var d time.Duration
		var ok bool
		for time.Now().Before(deadline) {
			if d, ok = in.ColdStart(); ok {
				break
			}
			time.Sleep(time.Millisecond)
		}
		in.Close()
		if !ok {
			return nil, fmt.Errorf("the transfer function did not call the Runtime API within 30 s")
		}
		out = append(out, d)
	}
	return out, nil
}

func printColdStart(w io.Writer, cold []time.Duration) {
	if len(cold) == 0 {
		return
	}
	s := slices.Clone(cold)
	slices.Sort(s)
	fmt.Fprintf(w, "\ntransfer Lambda cold start (process start to first Runtime API call, local/lambdart, %d starts): median %.1f ms [%.1f, %.1f]\n",
		len(s), ms(s[len(s)/2]), ms(s[0]), ms(s[len(s)-1]))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
