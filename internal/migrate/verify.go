package migrate

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	Prefixes []string // none: the whole bucket
	Ranges   int      // ranges per prefix, listed in parallel (default DefaultRanges)
	Deep     bool     // compare CRC32C (and source-generation) of every key in both
	// Report, if set, receives every key that is not the same on both
	// sides, in key order, as JSON lines or (Format "csv") CSV.
	Report io.Writer
	Format string
	// Progress is called now and then with the keys compared so far.
	Progress func(compared int64)
}

// VerifySummary is what Verify found.
type VerifySummary struct {
	Source     Tally `json:"source"`
	Dest       Tally `json:"destination"`
	Same       Tally `json:"same"`
	Missing    Tally `json:"missing"`
	Stale      Tally `json:"stale"`
	Extra      Tally `json:"extra"`
	Foreign    Tally `json:"foreign"`
	Unverified Tally `json:"unverified"`
	// Excluded: source keys no copy will ever make present (KindExcluded).
	// They do not make the migration incomplete, since the deployment is
	// told to leave them out, but they exist only at the source: switching
	// the source off loses them.
	Excluded Tally `json:"excluded"`
	Deep     bool  `json:"deep"`
	// Complete: every source key the deployment copies is in S3 and, as far
	// as checked, the same; nothing extra.
	Complete bool    `json:"complete"`
	Seconds  float64 `json:"seconds"`
}

// reportLine is one line of the report.
type reportLine struct {
	Kind       Kind   `json:"kind"`
	Key        string `json:"key"`
	SourceSize *int64 `json:"sourceSize,omitempty"`
	DestSize   *int64 `json:"destSize,omitempty"`
	Generation string `json:"generation,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

func lineOf(e Entry) reportLine {
	l := reportLine{Kind: e.Kind, Key: e.Key, Reason: e.Reason}
	if e.Source != nil {
		l.SourceSize, l.Generation = &e.Source.Size, e.Source.Generation
	}
	if e.Dest != nil {
		l.DestSize = &e.Dest.Size
	}
	return l
}

var csvHeader = []string{"kind", "key", "source_size", "dest_size", "generation", "reason"}

func (l reportLine) csv() []string {
	size := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	return []string{string(l.Kind), l.Key, size(l.SourceSize), size(l.DestSize), l.Generation, l.Reason}
}

// Verify compares the two sides over every range and reports the
// differences. Each range spills its report lines to a temporary file, and
// the files are joined in range order at the end, so the report is in key
// order while memory stays flat whatever the bucket's size.
func Verify(ctx context.Context, s *Sides, opts VerifyOptions) (VerifySummary, error) {
	start := time.Now()
	if opts.Ranges <= 0 {
		opts.Ranges = DefaultRanges
	}
	ranges, err := PlanRanges(ctx, s.Source, opts.Prefixes, opts.Ranges)
	if err != nil {
		return VerifySummary{}, err
	}
	var (
		src, dst, same, missing, stale, extra, foreign, unverified, excluded counter
		compared                                                             counter
		seen                                                                 prefixSeen
		spills                                                               = make([]*os.File, len(ranges))
	)
	defer func() {
		for _, f := range spills {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}
	}()
	err = forRanges(ctx, ranges, opts.Ranges, func(ctx context.Context, i int, r Range) error {
		var w *bufio.Writer
		if opts.Report != nil {
			f, err := os.CreateTemp("", "backtoorigin-verify-*.jsonl")
			if err != nil {
				return fmt.Errorf("report spill file: %w", err)
			}
			spills[i] = f
			w = bufio.NewWriter(f)
		}
		enc := json.NewEncoder(w)
		for e, err := range Join(List(ctx, s.Source, r, s.PageSize), List(ctx, s.DestLister(), r, s.PageSize)) {
			if err != nil {
				return err
			}
			if err := s.Resolve(ctx, &e, opts.Deep); err != nil {
				return err
			}
			s.exclude(&e)
			seen.mark(r.Prefix)
			if e.Source != nil {
				src.add(e.Source.Size)
			}
			if e.Dest != nil {
				dst.add(e.Dest.Size)
			}
			size := int64(0)
			if e.Source != nil {
				size = e.Source.Size
			} else if e.Dest != nil {
				size = e.Dest.Size
			}
			switch e.Kind {
			case KindSame:
				same.add(size)
			case KindMissing:
				missing.add(size)
			case KindStale:
				stale.add(size)
			case KindExtra:
				extra.add(size)
			case KindForeign:
				foreign.add(size)
			case KindUnverified:
				unverified.add(size)
			case KindExcluded:
				excluded.add(size)
			}
			if n := compared.objects.Add(1); opts.Progress != nil && n%1000 == 0 {
				opts.Progress(n)
			}
			if w != nil && e.Kind != KindSame {
				if err := enc.Encode(lineOf(e)); err != nil {
					return fmt.Errorf("report spill file: %w", err)
				}
			}
		}
		if w != nil {
			return w.Flush()
		}
		return nil
	})
	if err != nil {
		return VerifySummary{}, err
	}
	if opts.Progress != nil {
		opts.Progress(compared.objects.Load())
	}
	if len(opts.Prefixes) > 0 {
		if err := seen.check(opts.Prefixes); err != nil {
			return VerifySummary{}, err
		}
	}
	if opts.Report != nil {
		if err := joinSpills(spills, opts.Report, opts.Format); err != nil {
			return VerifySummary{}, err
		}
	}
	sum := VerifySummary{
		Source: src.tally(), Dest: dst.tally(), Same: same.tally(), Missing: missing.tally(),
		Stale: stale.tally(), Extra: extra.tally(), Foreign: foreign.tally(), Unverified: unverified.tally(),
		Excluded: excluded.tally(), Deep: opts.Deep, Seconds: time.Since(start).Seconds(),
	}
	sum.Complete = sum.Missing.Objects+sum.Stale.Objects+sum.Extra.Objects+sum.Foreign.Objects+sum.Unverified.Objects == 0
	return sum, nil
}

// DestLister is the destination as a Lister.
func (s *Sides) DestLister() Lister { return &S3Lister{Client: s.Dest, Bucket: s.Bucket} }

func joinSpills(spills []*os.File, out io.Writer, format string) error {
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(out)
		if err := cw.Write(csvHeader); err != nil {
			return err
		}
	}
	for _, f := range spills {
		if f == nil {
			continue
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if cw == nil {
			if _, err := io.Copy(out, f); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			continue
		}
		dec := json.NewDecoder(bufio.NewReader(f))
		for {
			var l reportLine
			if err := dec.Decode(&l); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("read report spill: %w", err)
			}
			if err := cw.Write(l.csv()); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
		}
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	return nil
}
