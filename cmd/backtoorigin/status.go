package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
)

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var t target
	t.flags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: backtoorigin status [flags]")
		fmt.Fprintln(fs.Output(), "\nObjects and bytes copied in the last hour and day and the other outcomes (the transfer\nfunction's CloudWatch metrics), the transfer queue's depth and oldest message, the dead-letter\nqueue's depth, and when the queue drains at the last hour's rate (while a backfill runs).")
		fs.PrintDefaults()
	}
	if ok, code := parse(fs, args, stdout, stderr); !ok {
		return code
	}
	return exitFor(ctx, stderr, "status", status(ctx, &t, stdout))
}

func status(ctx context.Context, t *target, stdout io.Writer) error {
	c, err := t.resolve(ctx, "queue", "dlq")
	if err != nil {
		return err
	}
	st, err := migrate.ReadStatus(ctx, migrate.StatusOptions{Metrics: c.cloudwatch, Queue: c.sqs, QueueURL: t.queueURL, DLQURL: t.dlqURL})
	if err != nil {
		return inputError(queueError(err))
	}
	if t.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "copied, last hour  %10d objects %12s\n", st.CopiedLastHour.Objects, humanBytes(st.CopiedLastHour.Bytes))
	fmt.Fprintf(stdout, "copied, last day   %10d objects %12s\n", st.CopiedLastDay.Objects, humanBytes(st.CopiedLastDay.Bytes))
	fmt.Fprint(stdout, "last day, other outcomes:")
	for _, name := range []string{"Skipped", "Failed", "SourceForbidden", "NoProgress", "Excluded"} {
		fmt.Fprintf(stdout, " %s %d", name, st.OutcomesLastDay[name])
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "transfer queue     %10d messages (%d waiting, %d in flight, %d delayed)", st.Queue.Total(), st.Queue.Waiting, st.Queue.InFlight, st.Queue.Delayed)
	if st.OldestMessageSeconds != nil {
		fmt.Fprintf(stdout, ", oldest %s", (time.Duration(*st.OldestMessageSeconds) * time.Second).String())
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "dead-letter queue  %10d messages\n", st.DeadLetter.Total())
	if st.DrainSeconds != nil && st.Queue.Total() > 0 {
		fmt.Fprintf(stdout, "queue drains in about %s at the last hour's rate\n", (time.Duration(*st.DrainSeconds) * time.Second).Round(time.Second))
	}
	return nil
}
