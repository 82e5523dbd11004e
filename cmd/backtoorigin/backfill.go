package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
)

// GCS list prices (USD) the dry run's estimate assumes; flags override
// them for other regions, tiers or contracts.
const (
	defaultEgressPerGiB  = 0.12   // internet egress, first TiB from North America / Europe
	defaultClassAPer1000 = 0.005  // list calls (Standard storage)
	defaultClassBPer1000 = 0.0004 // HEAD and GET (Standard storage)
)

func runBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	var t target
	t.flags(fs)
	var ps prefixes
	fs.Var(&ps, "prefix", "only keys starting with this (repeatable)")
	var o backfillFlags
	fs.BoolVar(&o.dryRun, "dry-run", false, "queue nothing: print the objects, bytes and estimated GCS cost of what would be queued")
	fs.BoolVar(&o.refresh, "refresh", false, "also queue keys changed at the source after this system copied them (replaced with If-Match)")
	fs.Float64Var(&o.rate, "rate", 0, "at most N messages per second (0: no limit)")
	fs.IntVar(&o.maxQueued, "max-queued", 10000, "keep the transfer queue under N messages (0: no bound); messages past the queue's retention expire silently")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "resume state file (default: one per bucket, queue and prefixes in the user cache folder)")
	fs.BoolVar(&o.restart, "restart", false, "discard the checkpoint and start from the beginning")
	fs.Float64Var(&o.egress, "egress-per-gib", defaultEgressPerGiB, "GCS egress price per GiB for the estimate")
	fs.Float64Var(&o.classA, "class-a-per-1000", defaultClassAPer1000, "GCS Class A (list) price per 1000 calls")
	fs.Float64Var(&o.classB, "class-b-per-1000", defaultClassBPer1000, "GCS Class B (HEAD, GET) price per 1000 calls")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: backtoorigin backfill [--prefix P]... [--dry-run] [--refresh] [--rate N] [--max-queued N] [flags]")
		fmt.Fprintln(fs.Output(), "\nQueues every source key missing in S3 on the transfer queue, as the edge does for a viewer's\nmiss; the deployed transfer function copies them. Ctrl-C or a crash leaves a checkpoint: run the\nsame command again to continue; nothing is queued twice.")
		fs.PrintDefaults()
	}
	if ok, code := parse(fs, args, stdout, stderr); !ok {
		return code
	}
	return exitFor(ctx, stderr, "backfill", backfill(ctx, &t, ps, o, stdout, stderr))
}

type backfillFlags struct {
	dryRun, refresh, restart bool
	rate                     float64
	maxQueued                int
	checkpoint               string
	egress, classA, classB   float64
}

// estimate is the dry run's cost estimate for copying the queued objects.
type estimate struct {
	EgressUSD   float64 `json:"egressUSD"`
	RequestsUSD float64 `json:"requestsUSD"`
	ListUSD     float64 `json:"listUSD"`
	GetRequests int64   `json:"getRequests"`
	TotalUSD    float64 `json:"totalUSD"`
}

func costOf(sum migrate.BackfillSummary, o backfillFlags) estimate {
	e := estimate{GetRequests: sum.SourceRequests}
	e.EgressUSD = float64(sum.Queued.Bytes+sum.Refreshed.Bytes) / (1 << 30) * o.egress
	e.RequestsUSD = float64(e.GetRequests) / 1000 * o.classB
	e.ListUSD = float64(sum.Pages) / 1000 * o.classA
	e.TotalUSD = e.EgressUSD + e.RequestsUSD + e.ListUSD
	return e
}

func backfill(ctx context.Context, t *target, ps prefixes, o backfillFlags, stdout, stderr io.Writer) error {
	need := []string{"bucket", "source"}
	if !o.dryRun {
		need = append(need, "queue")
	}
	if o.rate < 0 || o.maxQueued < 0 {
		return badInput("--rate and --max-queued cannot be negative")
	}
	c, err := t.resolve(ctx, need...)
	if err != nil {
		return err
	}
	limitListingMemory(t.ranges, t.pageSize)
	identity := t.sourceEndpoint + "/" + t.sourceBucket + " -> s3://" + t.bucket
	opts := migrate.BackfillOptions{
		Prefixes: ps, Ranges: t.ranges, DryRun: o.dryRun, Refresh: o.refresh,
		Rate: o.rate, MaxQueued: o.maxQueued, Queue: c.sqs, QueueURL: t.queueURL, Identity: identity,
	}
	if !o.dryRun {
		opts.Checkpoint = o.checkpoint
		if opts.Checkpoint == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				return badInput("no user cache folder for the checkpoint (%v): pass --checkpoint FILE", err)
			}
			opts.Checkpoint = filepath.Join(dir, "backtoorigin", "backfill-"+queuemsg.KeyHash(identity + "\x00" + t.queueURL + "\x00" + fmt.Sprint([]string(ps)) + fmt.Sprint(o.refresh))[:16]+".json")
		}
		if o.restart {
			if err := os.Remove(opts.Checkpoint); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		fmt.Fprintf(stderr, "checkpoint: %s\n", opts.Checkpoint)
	}
	p := newProgress(stderr, "backfill", -1)
	verb := "queued"
	if o.dryRun {
		verb = "to queue"
	}
	opts.Progress = func(bp migrate.BackfillProgress) {
		line := fmt.Sprintf("%d keys listed (%.0f keys/s), %s %d objects %s", bp.Listed, p.rate(bp.Listed), verb, bp.Queued.Objects, humanBytes(bp.Queued.Bytes))
		if o.refresh {
			line += fmt.Sprintf(", refresh %d objects %s", bp.Refreshed.Objects, humanBytes(bp.Refreshed.Bytes))
		}
		if bp.Waiting {
			line += fmt.Sprintf(" (waiting: queue at --max-queued %d)", o.maxQueued)
		}
		p.steps(int64(bp.Ranges))
		p.show(int64(bp.RangesDone), line)
	}
	opts.OnForeign = func(e migrate.Entry) {
		if e.Kind == migrate.KindExcluded {
			fmt.Fprintf(stderr, "not queued: %s: %s\n", e.Key, e.Reason)
			return
		}
		fmt.Fprintf(stderr, "not replaced: %s: %s\n", e.Key, e.Reason)
	}
	sum, err := migrate.Backfill(ctx, t.sides(c), opts)
	p.done()
	if err != nil {
		if !o.dryRun && ctx.Err() != nil {
			fmt.Fprintf(stderr, "stopped; %d objects queued so far. Run the same command again to continue.\n", sum.Queued.Objects)
		}
		return inputError(err)
	}
	result := struct {
		migrate.BackfillSummary
		Estimate *estimate `json:"estimate,omitempty"`
	}{BackfillSummary: sum}
	if o.dryRun {
		e := costOf(sum, o)
		result.Estimate = &e
	}
	if t.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	}
	fmt.Fprintf(stdout, "listed     %12d objects %12s\n", sum.Listed.Objects, humanBytes(sum.Listed.Bytes))
	fmt.Fprintf(stdout, "in S3      %12d objects %12s\n", sum.Present.Objects, humanBytes(sum.Present.Bytes))
	fmt.Fprintf(stdout, "%-10s %12d objects %12s\n", verb, sum.Queued.Objects, humanBytes(sum.Queued.Bytes))
	if o.refresh {
		fmt.Fprintf(stdout, "refresh    %12d objects %12s\n", sum.Refreshed.Objects, humanBytes(sum.Refreshed.Bytes))
		fmt.Fprintf(stdout, "foreign    %12d objects %12s (changed at the source, S3's object not written by this system: not replaced)\n", sum.Foreign.Objects, humanBytes(sum.Foreign.Bytes))
	}
	if sum.Excluded.Objects > 0 {
		fmt.Fprintf(stdout, "excluded   %12d objects %12s (not queued: the key rules leave them out or the transfer refuses the key; listed on stderr)\n", sum.Excluded.Objects, humanBytes(sum.Excluded.Bytes))
	}
	if e := result.Estimate; e != nil {
		fmt.Fprintf(stdout, "estimated GCS cost of the copies: $%.2f egress + $%.2f for %d HEAD/GET requests + $%.4f for %d list calls = $%.2f\n",
			e.EgressUSD, e.RequestsUSD, e.GetRequests, e.ListUSD, sum.Pages, e.TotalUSD)
		fmt.Fprintf(stdout, "(at $%.3f/GiB egress, $%.4f per 1000 Class B and $%.4f per 1000 Class A calls: check your region and contract)\n", o.egress, o.classB, o.classA)
	}
	if sum.Resumed {
		fmt.Fprintln(stdout, "(resumed from the checkpoint; queued counts include the earlier runs)")
	}
	return nil
}
