// Package transferlambda is the transfer Lambda's SQS batch handler: it
// turns queue records into transfer.Engine copies, moves malformed
// messages to the dead-letter queue, and re-enqueues copies that ran out of
// time. lambda/transfer/main.go only wires it up.
package transferlambda

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// Config is the function's environment, read once at init.
type Config struct {
	DestinationBucket   string // DESTINATION_BUCKET (required)
	SourceBucket        string // SOURCE_BUCKET (required): the GCS bucket
	SourceEndpoint      string // SOURCE_ENDPOINT (default https://storage.googleapis.com)
	QueueURL            string // QUEUE_URL (required): for continuation messages
	DeadLetterQueueURL  string // DEAD_LETTER_QUEUE_URL (required): for malformed messages
	SourceHMACSecretARN string // SOURCE_HMAC_SECRET_ARN (optional): private buckets
	PartSizeMiB         int    // PART_SIZE_MIB (default 16)
	PartConcurrency     int    // PART_CONCURRENCY (default 8)
	BatchConcurrency    int    // BATCH_CONCURRENCY (default 4)
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
		QueueURL:            required("QUEUE_URL"),
		DeadLetterQueueURL:  required("DEAD_LETTER_QUEUE_URL"),
		SourceHMACSecretARN: getenv("SOURCE_HMAC_SECRET_ARN"),
		PartSizeMiB:         number("PART_SIZE_MIB", transfer.DefaultPartSize>>20, 5, 5120),
		PartConcurrency:     number("PART_CONCURRENCY", transfer.DefaultPartConcurrency, 1, 256),
		BatchConcurrency:    number("BATCH_CONCURRENCY", 4, 1, 100),
	}
	if cfg.SourceEndpoint == "" {
		cfg.SourceEndpoint = transfer.DefaultSourceEndpoint
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("transfer function configuration: %w", err)
	}
	return cfg, nil
}
