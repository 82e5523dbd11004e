package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
)

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var t target
	t.flags(fs)
	edgeRegions := fs.String("edge-regions", strings.Join(migrate.EdgeRegions, ","), "regions asked for the edge function's OriginFetches metric (it records where CloudFront fetched from an origin)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: backtoorigin status [flags]")
		fmt.Fprintln(fs.Output(), "\nObjects and bytes copied in the last hour and day and the other outcomes (the transfer\nfunction's CloudWatch metrics), the transfer queue's depth and oldest message, the dead-letter\nqueue's depth, and when the queue drains at the last hour's rate (while a backfill runs).")
		fs.PrintDefaults()
	}
	if ok, code := parse(fs, args, stdout, stderr); !ok {
		return code
	}
	return exitFor(ctx, stderr, "status", status(ctx, &t, strings.Split(*edgeRegions, ","), stdout, stderr))
}

func status(ctx context.Context, t *target, edgeRegions []string, stdout, stderr io.Writer) error {
	c, err := t.resolve(ctx, "queue", "dlq")
	if err != nil {
		return err
	}
	edge := map[string]migrate.MetricsAPI{}
	for _, r := range edgeRegions {
		if r = strings.TrimSpace(r); r != "" {
			edge[r] = cloudwatch.NewFromConfig(c.config, func(o *cloudwatch.Options) { o.Region = r })
		}
	}
	st, err := migrate.ReadStatus(ctx, migrate.StatusOptions{Metrics: c.cloudwatch, Queue: c.sqs, QueueURL: t.queueURL, DLQURL: t.dlqURL, EdgeMetrics: edge})
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
	if share := st.S3Share(); share != nil {
		fmt.Fprintf(stdout, "origin fetches, last day: S3 %d (%.1f%%), GCS %d (recorded in %s)\n",
			st.Fetches["S3"], *share*100, st.Fetches["GCS"], strings.Join(st.FetchRegions, ", "))
	} else {
		fmt.Fprintln(stdout, "origin fetches, last day: none recorded")
	}
	for _, e := range st.FetchErrors {
		fmt.Fprintf(stderr, "origin fetches not read in %s\n", e)
	}
	if st.DrainSeconds != nil && st.Queue.Total() > 0 {
		fmt.Fprintf(stdout, "queue drains in about %s at the last hour's rate\n", (time.Duration(*st.DrainSeconds) * time.Second).Round(time.Second))
	}
	return nil
}
