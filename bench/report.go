package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// printReport writes the settings, the one table and the copy goals.
func printReport(w io.Writer, cfg config, rows []sizeResult, info runInfo) {
	fmt.Fprintf(w, "\nGCS (fake-gcs-server, in process) -> S3 (MinIO) on 127.0.0.1, %d CPUs, %s\n", runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(w, "load average (1, 5, 15 min) before the run: %s, after: %s\n", info.loadBefore, loadAverage())
	fmt.Fprintf(w, "part size %s, concurrency %d, %d rounds per size, each running every contender once, the next\n", formatSize(cfg.partSize), cfg.concurrency, cfg.runs)
	fmt.Fprintln(w, "round starting one contender further; each cell is the contender's median run by time")
	if info.rclone != "" {
		fmt.Fprintf(w, "rclone: %s: copyurl %s\n", info.rclone, strings.Join(rcloneFlags(cfg), " "))
	}
	fmt.Fprintln(w, "MB/s = 10^6 bytes/s; engine and rclone are timed exec to exit, ceiling halves from their own go signal;")
	fmt.Fprintln(w, "CPU s = user+system seconds of the contender, of MinIO (user and sys apart), of this process (fake-gcs serving),")
	fmt.Fprintln(w, "and of anything else on the machine during the run (\"other\": builds and tests of others; large values make")
	fmt.Fprintln(w, "that row suspect). MinIO's sys time swings between phases of about a minute whatever the requests (on the bench")
	fmt.Fprintln(w, "VM 0.6 to 3.3 s per GiB); a row with a high MinIO sys was measured in a high-sys phase.")
	fmt.Fprintln(w, "The warm row times only the second of two copies in one process; its CPU columns cover both.")
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tcontender\tseconds\tMB/s\tx rclone\tx GET+PUT at once\tpeak RSS MiB\tCPU s self\tCPU s MinIO usr\tCPU s MinIO sys\tCPU s fake-gcs\tCPU s other\t")
	order := []string{cEngine, cWarm, cRclone, cGet, cPut, cCeiling, cTogether}
	for _, r := range rows {
		rc, hasRclone := r.Results[cRclone]
		ceil, hasCeil := r.Results[cTogether]
		first := true
		for _, name := range order {
			m, ok := r.Results[name]
			if !ok {
				continue
			}
			size := ""
			if first {
				size, first = formatSize(r.Size), false
			}
			vsRclone, vsCeil := "", ""
			if name == cEngine || name == cWarm || name == cRclone {
				if hasRclone && name != cRclone {
					vsRclone = fmt.Sprintf("%.2f", rc.Seconds/m.Seconds)
				}
				if hasCeil {
					vsCeil = fmt.Sprintf("%.2f", ceil.Seconds/m.Seconds)
				}
			}
			rss, cpu := "", ""
			if m.HasRSS {
				rss = fmt.Sprintf("%.0f", float64(m.MaxRSSKiB)/1024)
			}
			if name != cCeiling {
				cpu = fmt.Sprintf("%.2f\t%.2f\t%.2f\t%.2f\t%.2f", m.CPUChild, m.CPUMinIO.User, m.CPUMinIO.Sys, m.CPUFakeGCS, m.CPUOther)
			} else {
				cpu = "\t\t\t\t" // its CPU is in the GET and PUT rows
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.1f\t%s\t%s\t%s\t%s\t\n", size, name, m.Seconds, m.MBps(r.Size), vsRclone, vsCeil, rss, cpu)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	printInterference(w, rows)
	printGoals(w, cfg, rows)
	printInner(w, rows)
	printColdStart(w, info.cold)
	fmt.Fprintf(w, "\nwhole run (build, MinIO start, seeding, every copy and check): %s\n", info.elapsed.Round(time.Second))
}

type runInfo struct {
	cold       []time.Duration
	rclone     string // rclone's version line, empty when it did not run
	loadBefore string
	elapsed    time.Duration
}

func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	return strings.Join(f[:3], " ")
}

// printInterference warns when other processes took a noticeable share of the CPUs
// while the bench measured: on two cores that alone can halve a row's MB/s.
func printInterference(w io.Writer, rows []sizeResult) {
	var other, seconds float64
	for _, r := range rows {
		for name, m := range r.Results {
			if name == cCeiling {
				continue
			}
			other += m.CPUOther
			seconds += m.Seconds
		}
	}
	if seconds == 0 {
		return
	}
	if cores := other / seconds; cores > 0.2 {
		fmt.Fprintf(w, "WARNING: other processes kept %.1f of %d CPUs busy during the measurements; the ratios are noisy, rerun on a quiet machine.\n\n", cores, runtime.NumCPU())
	}
}

// printInner separates the fixed cost of a run (process start, SDK setup) from the
// copy: it dominates small objects and is the same for any size.
func printInner(w io.Writer, rows []sizeResult) {
	header := false
	for _, r := range rows {
		for _, name := range []string{cEngine} {
			m, ok := r.Results[name]
			if !ok || m.InnerSecs <= 0 {
				continue
			}
			if !header {
				fmt.Fprintln(w, "\nengine time inside Copy() alone (the rest of its seconds is process start and SDK setup):")
				header = true
			}
			line := fmt.Sprintf("  %-8s %-26s %.2f s of %.2f s, %.1f MB/s", formatSize(r.Size), name, m.InnerSecs, m.Seconds, float64(r.Size)/1e6/m.InnerSecs)
			if c, ok := r.Results[cTogether]; ok {
				line += fmt.Sprintf(", %.2fx GET + PUT at once", c.Seconds/m.InnerSecs)
			}
			fmt.Fprintln(w, line)
		}
	}
}

// printGoals checks the copy goals against the rows that were measured.
func printGoals(w io.Writer, cfg config, rows []sizeResult) {
	var variants []string
	for _, name := range []string{cEngine, cWarm} {
		for _, r := range rows {
			if _, ok := r.Results[name]; ok {
				variants = append(variants, name)
				break
			}
		}
	}
	if len(variants) == 0 {
		return
	}
	verdict := func(ok bool, value string) string {
		if ok {
			return "PASS " + value
		}
		return "FAIL " + value
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "goals\t%s\t\n", strings.Join(variants, "\t"))
	line := func(goal string, cell func(name string) (string, bool)) {
		cells, any := make([]string, len(variants)), false
		for i, name := range variants {
			c, ok := cell(name)
			cells[i], any = c, any || ok
		}
		if any {
			fmt.Fprintf(tw, "%s\t%s\t\n", goal, strings.Join(cells, "\t"))
		}
	}
	bySize := map[int64]sizeResult{}
	for _, r := range rows {
		bySize[r.Size] = r
	}
	if r, ok := bySize[1<<30]; ok {
		line(">= 1.5x rclone on 1 GiB", func(name string) (string, bool) {
			eng, ok1 := r.Results[name]
			rc, ok2 := r.Results[cRclone]
			if !ok1 || !ok2 {
				return "-", false
			}
			x := rc.Seconds / eng.Seconds
			return verdict(x >= 1.5, fmt.Sprintf("%.2fx", x)), true
		})
	}
	for _, r := range rows {
		goal, what := 0.95, ""
		if r.Size == 16<<20 {
			goal, what = 0.9, " (cold)"
		}
		// Each engine run is a fresh process: its copy is a first copy, over
		// new connections, like the ceiling children's. The goal reads the
		// copy timed as they time theirs; the whole process is shown beside.
		line(fmt.Sprintf(">= %.2fx GET + PUT at once on %s%s, paired per round: median [min, max]; whole process", goal, formatSize(r.Size), what), func(name string) (string, bool) {
			if name != cEngine || len(r.Paired) == 0 {
				return "-", false
			}
			x := median(r.Paired)
			return verdict(x >= goal, fmt.Sprintf("%.2fx [%.2f, %.2f] of %d; %.2fx", x, slices.Min(r.Paired), slices.Max(r.Paired), len(r.Paired), median(r.PairedProcess))), true
		})
	}
	bound := cfg.partSize*int64(cfg.concurrency) + 64<<20
	for _, r := range rows {
		line(fmt.Sprintf("peak RSS <= %s on %s", formatSize(bound), formatSize(r.Size)), func(name string) (string, bool) {
			eng, ok := r.Results[name]
			if !ok {
				return "-", false
			}
			return verdict(eng.MaxRSSKiB<<10 <= bound, fmt.Sprintf("%d MiB", eng.MaxRSSKiB>>10)), true
		})
	}
	if r256, ok := bySize[256<<20]; ok {
		if r1G, ok := bySize[1<<30]; ok {
			// "Flat": the 1 GiB copy may not need more than 10% (at least 8 MiB) over the
			// 256 MiB copy; anything more means memory grows with the object.
			line("peak RSS flat 256 MiB -> 1 GiB (+max(10%, 8 MiB))", func(name string) (string, bool) {
				a, ok1 := r256.Results[name]
				b, ok2 := r1G.Results[name]
				if !ok1 || !ok2 {
					return "-", false
				}
				slack := max(a.MaxRSSKiB/10, 8<<10)
				return verdict(b.MaxRSSKiB <= a.MaxRSSKiB+slack, fmt.Sprintf("%d->%d MiB", a.MaxRSSKiB>>10, b.MaxRSSKiB>>10)), true
			})
		}
	}
	tw.Flush()
}
