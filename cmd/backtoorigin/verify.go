package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var t target
	t.flags(fs)
	var ps prefixes
	fs.Var(&ps, "prefix", "only keys starting with this (repeatable)")
	deep := fs.Bool("deep", false, "also compare every key's CRC32C (GCS x-goog-hash against S3's full-object CRC32C): one HEAD per key on each side")
	reportPath := fs.String("report", "", "write every key that differs to FILE: JSON lines, or CSV when FILE ends in .csv")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: backtoorigin verify [--prefix P]... [--deep] [--report FILE] [flags]")
		fmt.Fprintln(fs.Output(), "\nLists the source and S3 in key order and merge-joins them: missing in S3, stale (size or source\ngeneration differs; --deep: CRC32C differs), extra in S3, foreign (changed at the source, S3's\nobject not written by this system). Exit 0 only when complete and identical, 1 otherwise.")
		fs.PrintDefaults()
	}
	if ok, code := parse(fs, args, stdout, stderr); !ok {
		return code
	}
	return exitFor(ctx, stderr, "verify", verify(ctx, &t, ps, *deep, *reportPath, stdout, stderr))
}

// differences: the command found differences (exit 1), already reported.
type differences struct{}

func (differences) Error() string { return "differences found" }

func verify(ctx context.Context, t *target, ps prefixes, deep bool, reportPath string, stdout, stderr io.Writer) error {
	c, err := t.resolve(ctx, "bucket", "source")
	if err != nil {
		return err
	}
	limitListingMemory(t.ranges, t.pageSize)
	opts := migrate.VerifyOptions{Prefixes: ps, Ranges: t.ranges, Deep: deep}
	if reportPath != "" {
		f, err := os.Create(reportPath)
		if err != nil {
			return badInput("report: %v", err)
		}
		defer f.Close()
		opts.Report = f
		if strings.HasSuffix(reportPath, ".csv") {
			opts.Format = "csv"
		}
	}
	p := newProgress(stderr, "verify", -1)
	opts.Progress = func(n int64) { p.keys(n, "compared") }
	sum, err := migrate.Verify(ctx, t.sides(c), opts)
	p.done()
	if err != nil {
		return inputError(err)
	}
	if t.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		row := func(name string, tl migrate.Tally) {
			fmt.Fprintf(stdout, "%-11s %12d objects %12s\n", name, tl.Objects, humanBytes(tl.Bytes))
		}
		row("source", sum.Source)
		row("S3", sum.Dest)
		row("same", sum.Same)
		row("missing", sum.Missing)
		row("stale", sum.Stale)
		row("extra", sum.Extra)
		row("foreign", sum.Foreign)
		if deep {
			row("unverified", sum.Unverified)
		}
		if sum.Excluded.Objects > 0 {
			row("excluded", sum.Excluded)
			fmt.Fprintln(stdout, "            (never copied: the key rules leave them out, or the transfer refuses the key;\n             they exist only at the source: switching it off loses them)")
		}
		verdict := "complete and identical"
		if !sum.Complete {
			verdict = "NOT complete"
		}
		how := "sizes and source generations"
		if deep {
			how += " and CRC32C"
		}
		fmt.Fprintf(stdout, "%s (compared %s) in %.1f s\n", verdict, how, sum.Seconds)
		if reportPath != "" {
			fmt.Fprintf(stdout, "report: %s\n", reportPath)
		}
	}
	if !sum.Complete {
		return differences{}
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
