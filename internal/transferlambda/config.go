// Package transferlambda is the transfer Lambda's SQS batch handler: it
// turns queue records into transfer.Engine copies, moves malformed
// messages to the dead-letter queue, and re-enqueues copies that ran out of
// time. lambda/transfer/main.go only wires it up.
package transferlambda

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/backtoorigin/backtoorigin/internal/sourceendpoint"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// Config is the function's environment, read once at init.
type Config struct {
	DestinationBucket   string // DESTINATION_BUCKET (required)
	SourceBucket        string // SOURCE_BUCKET (required): the GCS bucket
	SourceEndpoint      string // SOURCE_ENDPOINT (default https://storage.googleapis.com; {bucket}. in the host: virtual-hosted)
	SourceRegion        string // SOURCE_REGION (default auto): SigV4 region of signed reads
	QueueURL            string // QUEUE_URL (required): for continuation messages
	DeadLetterQueueURL  string // DEAD_LETTER_QUEUE_URL (required): for malformed messages
	SourceHMACSecretARN string // SOURCE_HMAC_SECRET_ARN (optional): private buckets
	PartSizeMiB         int    // PART_SIZE_MIB (default 16)
	PartConcurrency     int    // PART_CONCURRENCY (default 8)
	BatchConcurrency    int    // BATCH_CONCURRENCY (default 4)
	Rules               KeyRules
}

// Environment variables of the key rules: JSON arrays of strings, written by
// the stack from the same includePrefixes/excludeSuffixes settings that it
// bakes into the edge function.
const (
	EnvIncludePrefixes = "INCLUDE_PREFIXES"
	EnvExcludeSuffixes = "EXCLUDE_SUFFIXES"
)

// KeyRules decide which keys are copied, exactly as the edge handler
// decides which keys it queues: a key must start with one of
// IncludePrefixes (when there are any) and end with none of ExcludeSuffixes.
type KeyRules struct {
	IncludePrefixes []string
	ExcludeSuffixes []string
}

// Allows reports whether key is to be copied.
func (r KeyRules) Allows(key string) bool {
	included := len(r.IncludePrefixes) == 0 || slices.ContainsFunc(r.IncludePrefixes, func(p string) bool { return strings.HasPrefix(key, p) })
	return included && !slices.ContainsFunc(r.ExcludeSuffixes, func(s string) bool { return strings.HasSuffix(key, s) })
}

// ConfigFromEnv reads the configuration through getenv (os.Getenv in the
// function). Every problem is reported at once, so a misconfigured stack
// fails its first init with the whole list.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	required := func(name string) string {
		v := getenv(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
		return v
	}
	number := func(name string, def, lo, hi int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, lo, hi))
		}
		return n
	}
	cfg := Config{
		DestinationBucket:   required("DESTINATION_BUCKET"),
		SourceBucket:        required("SOURCE_BUCKET"),
		SourceEndpoint:      getenv("SOURCE_ENDPOINT"),
		SourceRegion:        getenv("SOURCE_REGION"),
		QueueURL:            required("QUEUE_URL"),
		DeadLetterQueueURL:  required("DEAD_LETTER_QUEUE_URL"),
		SourceHMACSecretARN: getenv("SOURCE_HMAC_SECRET_ARN"),
		// At most what a stream at transfer.MinStreamRate moves in one invocation.
		PartSizeMiB:      number("PART_SIZE_MIB", transfer.DefaultPartSize>>20, 5, int(transfer.MaxPartSizeFor(transfer.DefaultMaxPartDuration)>>20)),
		PartConcurrency:  number("PART_CONCURRENCY", transfer.DefaultPartConcurrency, 1, 256),
		BatchConcurrency: number("BATCH_CONCURRENCY", 4, 1, 100),
	}
	rules := func(name string) []string {
		v := getenv(name)
		if v == "" {
			return nil
		}
		var list []string
		if err := json.Unmarshal([]byte(v), &list); err != nil || slices.Contains(list, "") {
			errs = append(errs, fmt.Errorf("%s=%q: want a JSON array of non-empty strings", name, v))
		}
		return list
	}
	cfg.Rules = KeyRules{IncludePrefixes: rules(EnvIncludePrefixes), ExcludeSuffixes: rules(EnvExcludeSuffixes)}
	if cfg.SourceEndpoint == "" {
		cfg.SourceEndpoint = transfer.DefaultSourceEndpoint
	}
	if _, err := sourceendpoint.ParseLocal(cfg.SourceEndpoint); err != nil {
		errs = append(errs, fmt.Errorf("SOURCE_ENDPOINT: %w", err))
	}
	if cfg.SourceRegion == "" {
		cfg.SourceRegion = sourceendpoint.DefaultRegion
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("transfer function configuration: %w", err)
	}
	return cfg, nil
}
