// Command smallcopy copies a list of keys through the transfer Lambda's own
// handler (internal/transferlambda, built by NewHandler from the function's
// environment exactly as lambda/transfer/main.go builds it), in SQS-sized
// batches of 10 records, so the small-objects bench measures what the
// function does per object: message handling, the engine, the SDK clients.
//
// FIFO queues hand a Lambda at most 10 records per batch. To keep
// PART_CONCURRENCY copies streaming at once (the bench's stated concurrency)
// it keeps enough batches in flight in this one process; the engine's shared
// stream budget caps the copies at PART_CONCURRENCY, as --transfers caps
// rclone. Peak RSS is therefore that of one instance holding all of them.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/backtoorigin/backtoorigin/bench/internal/childreport"
	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

// sqsBatch is the most records a FIFO queue's event source mapping delivers.
const sqsBatch = 10

func main() {
	log.SetFlags(0)
	keysFile := flag.String("keys", "", "file with one key per line")
	flag.Parse()
	keys, err := readLines(*keysFile)
	if err != nil {
		log.Fatalf("smallcopy: %v", err)
	}
	ctx := context.Background()
	cfg, err := transferlambda.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Fatalf("smallcopy: %v", err)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(transferlambda.HTTPClient(cfg)))
	if err != nil {
		log.Fatalf("smallcopy: %v", err)
	}
	outcomes := &outcomeCounter{n: map[string]int{}}
	handler, err := transferlambda.NewHandler(ctx, cfg, transferlambda.Clients{
		// Path-style: MinIO on 127.0.0.1 has no per-bucket host names.
		S3:  s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true }),
		SQS: sqs.NewFromConfig(awsCfg),
	}, slog.New(outcomes))
	if err != nil {
		log.Fatalf("smallcopy: %v", err)
	}

	var batches [][]events.SQSMessage
	for i := 0; i < len(keys); i += sqsBatch {
		var b []events.SQSMessage
		for j, key := range keys[i:min(i+sqsBatch, len(keys))] {
			body, _ := json.Marshal(queuemsg.Message{V: queuemsg.Version, Key: key})
			b = append(b, events.SQSMessage{
				MessageId:  strconv.Itoa(i + j),
				Body:       string(body),
				Attributes: map[string]string{"MessageGroupId": queuemsg.KeyHash(key)},
			})
		}
		batches = append(batches, b)
	}
	inFlight := (cfg.PartConcurrency+sqsBatch-1)/sqsBatch + 1 // one more, so a batch's slowest record does not idle the streams
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batches) {
					return
				}
				// A Lambda invocation's deadline, as the function's 5-minute timeout gives it.
				ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
				resp, err := handler.Handle(ictx, events.SQSEvent{Records: batches[i]})
				cancel()
				if err != nil {
					log.Fatalf("smallcopy: batch %d: %v", i, err)
				}
				failed.Add(int64(len(resp.BatchItemFailures)))
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	if failed.Load() > 0 || outcomes.get(string(transfer.OutcomeCopied)) != len(keys) {
		log.Fatalf("smallcopy: %d records failed; outcomes %v: the bench needs every key copied", failed.Load(), outcomes.snapshot())
	}
	if err := childreport.Write(outcomes.bytes.Load(), start, end); err != nil {
		log.Fatal(err)
	}
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	return lines, sc.Err()
}

// outcomeCounter is the handler's logger: it counts the object lines'
// outcomes and copied bytes, and prints warnings and errors to stderr.
type outcomeCounter struct {
	mu    sync.Mutex
	n     map[string]int
	bytes atomic.Int64
}

func (c *outcomeCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *outcomeCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *outcomeCounter) WithGroup(string) slog.Handler            { return c }

func (c *outcomeCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "object" {
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "outcome":
				c.mu.Lock()
				c.n[a.Value.String()]++
				c.mu.Unlock()
			case "BytesCopied":
				c.bytes.Add(a.Value.Int64())
			}
			return true
		})
	}
	if r.Level >= slog.LevelWarn {
		fmt.Fprintf(os.Stderr, "%s %s\n", r.Level, r.Message)
	}
	return nil
}

func (c *outcomeCounter) get(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[outcome]
}

func (c *outcomeCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}
