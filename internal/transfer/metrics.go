package transfer

import (
	"context"
	"log/slog"
	"math"
	"time"
)

// MetricsNamespace is the CloudWatch namespace of the engine's metrics.
const MetricsNamespace = "BackToOrigin"

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

// LogResult writes the one line per object: key, bytes, seconds, MB/s and
// outcome, and the same line is an EMF document, so CloudWatch turns it
// into the ObjectsCopied, BytesCopied, CopySeconds, Skipped, Failed,
// SourceForbidden, Joined (a copy continued an upload it found open),
// NoProgress and Excluded metrics without any API call. Suspended copies count bytes only.
func LogResult(ctx context.Context, log *slog.Logger, res Result, err error) {
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
	attrs := []any{
		slog.String("key", res.Key),
		slog.String("outcome", string(res.Outcome)),
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
		slog.Int("ObjectsCopied", count(res.Outcome == OutcomeCopied)),
		slog.Int64("BytesCopied", res.Bytes),
		slog.Float64("CopySeconds", seconds),
		slog.Int("Skipped", count(res.Outcome == OutcomeSkipped || res.Outcome == OutcomeRaced)),
		slog.Int("Failed", count(err != nil || res.Outcome == OutcomeFailed)),
		slog.Int("SourceForbidden", count(res.Outcome == OutcomeSourceForbidden)),
		slog.Int("Joined", count(res.Joined)),
		slog.Int("NoProgress", count(res.Outcome == OutcomeNoProgress)),
		slog.Int("Excluded", count(res.Outcome == OutcomeExcluded)),
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

func (e *Engine) logResult(ctx context.Context, res Result, err error) {
	LogResult(ctx, e.log, res, err)
}
