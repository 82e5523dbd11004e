package transferlambda

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/contract"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// MetricsNamespace is the CloudWatch namespace of the function's metrics.
const MetricsNamespace = contract.MetricsNamespace

// Outcomes of the messages the handler settles itself, without a copy;
// every other object line carries the engine's transfer.Outcome.
const (
	// OutcomeMalformed: the message can never succeed; it was moved to the
	// dead-letter queue.
	OutcomeMalformed = "malformed"
	// OutcomeExcluded: the stack's key rules (includePrefixes,
	// excludeSuffixes) leave the key out; nothing was copied.
	OutcomeExcluded = "excluded"
)

// emfMetrics declares the metrics of each object line for CloudWatch's
// Embedded Metric Format: one namespace, no dimensions, so alarms can use
// the bare metric names.
var emfMetrics = []map[string]string{
	{"Name": "ObjectsCopied", "Unit": "Count"},
	{"Name": "BytesCopied", "Unit": "Bytes"},
	{"Name": "CopySeconds", "Unit": "Seconds"},
	{"Name": "Skipped", "Unit": "Count"},
	{"Name": "Failed", "Unit": "Count"},
	{"Name": "SourceForbidden", "Unit": "Count"},
	{"Name": "Joined", "Unit": "Count"},
	{"Name": "NoProgress", "Unit": "Count"},
	{"Name": "Excluded", "Unit": "Count"},
}

// copyLogger is the engine's transfer.Config.ResultHook: the object line
// of every copy, written as the copy returns.
func copyLogger(log *slog.Logger) func(context.Context, transfer.Result, error) {
	return func(ctx context.Context, res transfer.Result, err error) {
		logObject(ctx, log, string(res.Outcome), res, err)
	}
}

// logSettled writes the object line of a message the handler settled
// without a copy (OutcomeMalformed, OutcomeExcluded).
func (h *Handler) logSettled(ctx context.Context, key, outcome string, took time.Duration, err error) {
	logObject(ctx, h.logger(), outcome, transfer.Result{Key: key, Duration: took}, err)
}

// logObject writes the one line per object: key, bytes, seconds, MB/s and
// outcome, and the same line is an EMF document, so CloudWatch turns it
// into the ObjectsCopied, BytesCopied, CopySeconds, Skipped, Failed,
// SourceForbidden, Joined (a copy continued an upload it found open),
// NoProgress and Excluded metrics without any API call. Suspended copies
// count bytes only. outcome is res.Outcome for a copy, or the handler's
// own for a message it settled without one (res then holds only the key
// and the time taken).
func logObject(ctx context.Context, log *slog.Logger, outcome string, res transfer.Result, err error) {
	seconds := res.Duration.Seconds()
	mbps := 0.0
	if seconds > 0 {
		mbps = math.Round(float64(res.Bytes)/1e6/seconds*100) / 100
	}
	count := func(ok bool) int {
		if ok {
			return 1
		}
		return 0
	}
	is := func(o transfer.Outcome) bool { return outcome == string(o) }
	attrs := []any{
		slog.String("key", res.Key),
		slog.String("outcome", outcome),
		slog.Int64("bytes", res.Bytes),
		slog.Float64("seconds", math.Round(seconds*1000)/1000),
		slog.Float64("mbps", mbps),
		slog.Int64("size", res.Size),
		slog.Int("parts", res.Parts),
		slog.Any("_aws", map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  MetricsNamespace,
				"Dimensions": [][]string{{}},
				"Metrics":    emfMetrics,
			}},
		}),
		slog.Int("ObjectsCopied", count(is(transfer.OutcomeCopied))),
		slog.Int64("BytesCopied", res.Bytes),
		slog.Float64("CopySeconds", seconds),
		slog.Int("Skipped", count(is(transfer.OutcomeSkipped) || is(transfer.OutcomeRaced))),
		slog.Int("Failed", count(err != nil || is(transfer.OutcomeFailed))),
		slog.Int("SourceForbidden", count(is(transfer.OutcomeSourceForbidden))),
		slog.Int("Joined", count(res.Joined)),
		slog.Int("NoProgress", count(is(transfer.OutcomeNoProgress))),
		slog.Int("Excluded", count(outcome == OutcomeExcluded)),
	}
	if res.Reason != "" {
		attrs = append(attrs, slog.String("reason", res.Reason))
	}
	if res.Generation != "" {
		attrs = append(attrs, slog.String("generation", res.Generation))
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	log.Log(ctx, level, "object", attrs...)
}
