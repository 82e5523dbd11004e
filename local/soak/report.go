package soak

import (
	"fmt"
	"io"
	"strings"

	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// Summary is the one line a script or a reader looks at first.
func (rep *Report) Summary() string {
	verdict := "PASS"
	if len(rep.Failed) > 0 {
		verdict = "FAIL: " + strings.Join(rep.Failed, ", ")
	}
	overhead := 0.0
	if rep.StoredBytes > 0 {
		overhead = 100 * (float64(rep.SourceReadBytes)/float64(rep.StoredBytes) - 1)
	}
	return fmt.Sprintf("soak seed=%d run=%s objects=%d landed=%d dead-lettered=%d lost=%d corrupt=%d overwrites=%d "+
		"recompleted=%d viewer-wrong=%d/%d open-uploads=%d source-read=%.1fMiB stored=%.1fMiB egress-overhead=%.1f%% %s",
		rep.Seed, rep.Elapsed.Round(1e9), rep.Objects, rep.Landed, len(rep.DeadLettered), len(rep.Lost), len(rep.Corrupt),
		len(rep.Overwrites), len(rep.Recompleted), len(rep.ViewerWrong), rep.ViewerRequests, len(rep.OpenUploads),
		float64(rep.SourceReadBytes)/mib, float64(rep.StoredBytes)/mib, overhead, verdict)
}

// Print writes the whole report.
func (rep *Report) Print(w io.Writer) {
	c := rep.Config
	fmt.Fprintf(w, "seed %d (replay: make soak SOAK_FLAGS='-seed %d -duration %s')\n", rep.Seed, rep.Seed, c.Duration)
	fmt.Fprintf(w, "set-up %s, run %s (bound %s), queue drained: %v\n", rep.Setup.Round(1e9), rep.Elapsed.Round(1e9), c.Duration, rep.Settled)
	fmt.Fprintf(w, "objects: %d (%d big up to %d MiB, %d multipart, %d gzip, %d overwritten mid-copy), %.1f MiB at the source\n",
		rep.Objects, c.Big, c.BigMaxMiB, c.Multipart, c.Gzip, c.Overwrites, float64(rep.SourceBytes)/mib)
	fmt.Fprintf(w, "  in S3, byte-identical with metadata: %d (of which %d overwritten at the source)\n", rep.Landed, rep.LandedOverwrote)
	fmt.Fprintf(w, "  in the dead-letter queue:            %d\n", len(rep.DeadLettered))
	for _, p := range rep.DeadLettered {
		fmt.Fprintf(w, "    %q: %s\n", p.Key, p.Reason)
	}
	list := func(title string, items []string) {
		fmt.Fprintf(w, "  %-37s %d\n", title+":", len(items))
		for i, s := range items {
			if i == 20 {
				fmt.Fprintf(w, "    ... %d more\n", len(items)-20)
				break
			}
			fmt.Fprintf(w, "    %s\n", s)
		}
	}
	list("lost (neither)", rep.Lost)
	list("corrupt", rep.Corrupt)
	list("overwrites (2nd successful write)", rep.Overwrites)
	list("same upload completed again", rep.Recompleted)
	list("keys in S3 nobody asked for", rep.ExtraKeys)
	list("multipart uploads left open", rep.OpenUploads)
	fmt.Fprintf(w, "viewers: %d requests by %d viewers, %d wrong\n", rep.ViewerRequests, c.Viewers, len(rep.ViewerWrong))
	for _, k := range sortedKeys(rep.ViewerKinds) {
		fmt.Fprintf(w, "  %-24s %d\n", k, rep.ViewerKinds[k])
	}
	for i, s := range rep.ViewerWrong {
		if i == 20 {
			fmt.Fprintf(w, "  ... %d more\n", len(rep.ViewerWrong)-20)
			break
		}
		fmt.Fprintf(w, "  WRONG %s\n", s)
	}
	fmt.Fprintf(w, "faults injected (rate x%g):\n", c.FaultRate)
	for _, k := range sortedKeys(rep.Faults) {
		fmt.Fprintf(w, "  %-36s %d\n", k, rep.Faults[k])
	}
	fmt.Fprintf(w, "  %-36s %d\n", "transfer process killed mid-invocation", rep.Kills)
	fmt.Fprintf(w, "  %-36s %d\n", "SQS duplicate sent", rep.Dups)
	fmt.Fprintf(w, "  %-36s %d\n", "SQS acknowledgement lost", rep.AcksLost)
	fmt.Fprintf(w, "queue: %d edge sends, %d deliveries of %d records, %d records failed or redelivered\n",
		rep.EdgeSends, rep.Deliveries, rep.Records, rep.FailedRecords)
	for _, k := range sortedKeys(rep.FunctionErrors) {
		fmt.Fprintf(w, "  function error %-22s %d\n", k, rep.FunctionErrors[k])
	}
	if len(rep.TimedOut) > 0 {
		fmt.Fprintf(w, "  batches stopped at the deadline held: %q\n", rep.TimedOut)
	}
	fmt.Fprintf(w, "copy outcomes (transfer log lines):\n")
	for _, k := range sortedKeys(rep.Outcomes) {
		fmt.Fprintf(w, "  %-36s %d\n", k, rep.Outcomes[k])
	}
	traffic := func(title string, m map[string]proxy.Traffic) {
		fmt.Fprintf(w, "%s (requests, MiB up, MiB down):\n", title)
		for _, k := range sortedKeys(m) {
			t := m[k]
			fmt.Fprintf(w, "  %-26s %7d %9.1f %9.1f\n", k, t.Requests, float64(t.RequestBytes)/mib, float64(t.ResponseBytes)/mib)
		}
	}
	traffic("transfer -> GCS", rep.Source)
	traffic("transfer -> S3", rep.S3)
	fmt.Fprintf(w, "source bytes read %.1f MiB for %.1f MiB stored\n", float64(rep.SourceReadBytes)/mib, float64(rep.StoredBytes)/mib)
	if len(rep.Logs) > 0 {
		fmt.Fprintf(w, "per-key log of the objects that went wrong, were dead-lettered or were in a batch stopped at the deadline:\n")
		for _, k := range sortedKeys(rep.Logs) {
			fmt.Fprintf(w, "  %q\n", k)
			for i, e := range rep.Logs[k] {
				if i == 30 {
					fmt.Fprintf(w, "    ... %d more\n", len(rep.Logs[k])-30)
					break
				}
				fmt.Fprintf(w, "    %s\n", e)
			}
		}
	}
	fmt.Fprintln(w, rep.Summary())
}
