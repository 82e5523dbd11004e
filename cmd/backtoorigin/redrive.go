package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
)

func runRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	var t target
	t.flags(fs)
	dryRun := fs.Bool("dry-run", false, "show what would move; move nothing")
	maxMessages := fs.Int("max", 0, "move at most N messages (0: until the dead-letter queue is empty)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: backtoorigin redrive [--dry-run] [--max N] [flags]")
		fmt.Fprintln(fs.Output(), "\nMoves dead-lettered messages back to the transfer queue after a fix, one line per message.\nThe transfer function's {reason, messageId, body} wrapper is unwrapped; a body that still does\nnot parse stays in the dead-letter queue (exit 1). A message leaves the dead-letter queue only\nafter the transfer queue accepted it.")
		fs.PrintDefaults()
	}
	if ok, code := parse(fs, args, stdout, stderr); !ok {
		return code
	}
	return exitFor(ctx, stderr, "redrive", redrive(ctx, &t, *dryRun, *maxMessages, stdout))
}

func redrive(ctx context.Context, t *target, dryRun bool, maxMessages int, stdout io.Writer) error {
	if maxMessages < 0 {
		return badInput("--max cannot be negative")
	}
	c, err := t.resolve(ctx, "queue", "dlq")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	sum, err := migrate.Redrive(ctx, migrate.RedriveOptions{
		Queue: c.sqs, DLQURL: t.dlqURL, QueueURL: t.queueURL, DryRun: dryRun, Max: maxMessages,
		OnMessage: func(r migrate.Redriven) {
			if t.json {
				_ = enc.Encode(r)
				return
			}
			switch {
			case r.Action == "kept":
				fmt.Fprintf(stdout, "kept       %s: %s (dead-lettered for: %s)\n", r.MessageID, r.Why, r.Reason)
			case r.Reason != "":
				fmt.Fprintf(stdout, "%-10s %s (dead-lettered for: %s)\n", r.Action, r.Key, r.Reason)
			default:
				fmt.Fprintf(stdout, "%-10s %s\n", r.Action, r.Key)
			}
		},
	})
	if err != nil {
		return inputError(queueError(err))
	}
	verb := "moved"
	if dryRun {
		verb = "would move"
	}
	if t.json {
		_ = enc.Encode(sum)
	} else {
		fmt.Fprintf(stdout, "%s %d, kept %d in the dead-letter queue\n", verb, sum.Moved, sum.Kept)
	}
	if sum.Kept > 0 {
		return differences{}
	}
	return nil
}
