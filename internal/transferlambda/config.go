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

	"github.com/backtoorigin/backtoorigin/internal/contract"
	"github.com/backtoorigin/backtoorigin/internal/sourceendpoint"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// Config is the function's environment, read once at init (ConfigFromEnv)
// and written by the stack and the local harness (Environ), so the names
// and their meaning have this one home.
type Config struct {
	DestinationBucket   string // required
	SourceBucket        string // required: the bucket being migrated
	SourceEndpoint      string // default sourceendpoint.Default; {bucket}. in the host: virtual-hosted
	SourceRegion        string // default sourceendpoint.DefaultRegion: SigV4 region of signed reads
	QueueURL            string // required: for continuation messages
	DeadLetterQueueURL  string // required: for malformed messages
	SourceHMACSecretARN string // optional: the key of a private bucket
	PartSizeMiB         int    // default contract.PartSizeMiB
	PartConcurrency     int    // default contract.PartConcurrency
	BatchConcurrency    int    // default contract.BatchConcurrency
	Rules               KeyRules
}

// The environment variables, one per Config field.
const (
	EnvDestinationBucket   = "DESTINATION_BUCKET"
	EnvSourceBucket        = "SOURCE_BUCKET"
	EnvSourceEndpoint      = "SOURCE_ENDPOINT"
	EnvSourceRegion        = "SOURCE_REGION"
	EnvQueueURL            = "QUEUE_URL"
	EnvDeadLetterQueueURL  = "DEAD_LETTER_QUEUE_URL"
	EnvSourceHMACSecretARN = "SOURCE_HMAC_SECRET_ARN"
	EnvPartSizeMiB         = "PART_SIZE_MIB"
	EnvPartConcurrency     = "PART_CONCURRENCY"
	EnvBatchConcurrency    = "BATCH_CONCURRENCY"
	// The key rules are JSON arrays of strings, written by the stack from the
	// same includePrefixes/excludeSuffixes settings that it bakes into the
	// edge function.
	EnvIncludePrefixes = "INCLUDE_PREFIXES"
	EnvExcludeSuffixes = "EXCLUDE_SUFFIXES"
)

// DefaultConfig is the configuration with every default filled in and
// nothing else: the stack and the harness start from it and add where the
// buckets and queues are.
func DefaultConfig() Config {
	return Config{
		SourceEndpoint:   sourceendpoint.Default,
		SourceRegion:     sourceendpoint.DefaultRegion,
		PartSizeMiB:      contract.PartSizeMiB,
		PartConcurrency:  contract.PartConcurrency,
		BatchConcurrency: contract.BatchConcurrency,
	}
}

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
	optional := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
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
		if len(list) == 0 {
			return nil // [] is no rule, as an unset variable is
		}
		return list
	}
	def := DefaultConfig()
	cfg := Config{
		DestinationBucket:   required(EnvDestinationBucket),
		SourceBucket:        required(EnvSourceBucket),
		SourceEndpoint:      optional(EnvSourceEndpoint, def.SourceEndpoint),
		SourceRegion:        optional(EnvSourceRegion, def.SourceRegion),
		QueueURL:            required(EnvQueueURL),
		DeadLetterQueueURL:  required(EnvDeadLetterQueueURL),
		SourceHMACSecretARN: getenv(EnvSourceHMACSecretARN),
		// At most what a stream at transfer.MinStreamRate moves in one invocation.
		PartSizeMiB:      number(EnvPartSizeMiB, def.PartSizeMiB, 5, int(transfer.MaxPartSizeFor(transfer.DefaultMaxPartDuration)>>20)),
		PartConcurrency:  number(EnvPartConcurrency, def.PartConcurrency, 1, 256),
		BatchConcurrency: number(EnvBatchConcurrency, def.BatchConcurrency, 1, 100),
		Rules:            KeyRules{IncludePrefixes: rules(EnvIncludePrefixes), ExcludeSuffixes: rules(EnvExcludeSuffixes)},
	}
	if _, err := sourceendpoint.ParseLocal(cfg.SourceEndpoint); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvSourceEndpoint, err))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("transfer function configuration: %w", err)
	}
	return cfg, nil
}

// Environ is the environment that ConfigFromEnv reads back as c: its exact
// inverse for every configuration ConfigFromEnv returns. An empty string or
// a zero number is left out (ConfigFromEnv then applies the default or
// reports the variable missing); the key rules are always written, [] for
// none. Values are written as they are, so the stack may pass CDK tokens.
func (c Config) Environ() map[string]string {
	env := map[string]string{
		EnvIncludePrefixes: jsonList(c.Rules.IncludePrefixes),
		EnvExcludeSuffixes: jsonList(c.Rules.ExcludeSuffixes),
	}
	for name, v := range map[string]string{
		EnvDestinationBucket:   c.DestinationBucket,
		EnvSourceBucket:        c.SourceBucket,
		EnvSourceEndpoint:      c.SourceEndpoint,
		EnvSourceRegion:        c.SourceRegion,
		EnvQueueURL:            c.QueueURL,
		EnvDeadLetterQueueURL:  c.DeadLetterQueueURL,
		EnvSourceHMACSecretARN: c.SourceHMACSecretARN,
	} {
		if v != "" {
			env[name] = v
		}
	}
	for name, n := range map[string]int{
		EnvPartSizeMiB:      c.PartSizeMiB,
		EnvPartConcurrency:  c.PartConcurrency,
		EnvBatchConcurrency: c.BatchConcurrency,
	} {
		if n != 0 {
			env[name] = strconv.Itoa(n)
		}
	}
	return env
}

// jsonList is the JSON array the key rules are read from.
func jsonList(list []string) string {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		panic(err) // a []string always marshals
	}
	return string(b)
}
