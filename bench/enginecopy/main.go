// Command enginecopy copies one object with the transfer engine, as the transfer Lambda
// would, so the bench can time it and read its peak RSS as a process of its own.
//
// The S3 client is built like the Lambda's (SDK defaults, AWS_ENDPOINT_URL_S3 from the
// environment) plus path-style addressing, which MinIO on 127.0.0.1 needs.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/bench/internal/childreport"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

func main() {
	log.SetFlags(0)
	sourceEndpoint := flag.String("source-endpoint", "", "GCS XML API endpoint (SOURCE_ENDPOINT)")
	sourceBucket := flag.String("source-bucket", "", "GCS bucket (SOURCE_BUCKET)")
	destBucket := flag.String("dest-bucket", "", "S3 bucket (DESTINATION_BUCKET)")
	key := flag.String("key", "", "object key")
	partSize := flag.Int64("part-size", transfer.DefaultPartSize, "bytes per part (PART_SIZE_MIB)")
	concurrency := flag.Int("concurrency", transfer.DefaultPartConcurrency, "parts in flight (PART_CONCURRENCY)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the copy to this file")
	warm := flag.Bool("warm", false, "copy once untimed, delete the copy, then copy again: the timed copy reuses connections and a grown heap, as in a warm Lambda container")
	trace := flag.Bool("trace", false, "print to stderr when each S3 call and source GET ran")
	flag.Parse()
	if *sourceEndpoint == "" || *sourceBucket == "" || *destBucket == "" || *key == "" {
		log.Fatal("enginecopy: -source-endpoint, -source-bucket, -dest-bucket and -key are required")
	}
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatalf("enginecopy: load AWS config: %v", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	var s3api transfer.S3API = client
	sourceHTTP := transfer.NewSourceHTTPClient()
	var t *tracer
	if *trace {
		t = newTracer()
		s3api = tracedS3{S3API: client, t: t}
		sourceHTTP.Transport = tracedTransport{next: sourceHTTP.Transport, t: t}
	}
	engine, err := transfer.New(transfer.Config{
		S3:     s3api,
		Bucket: *destBucket,
		Source: &transfer.Source{
			Endpoint: *sourceEndpoint,
			Bucket:   *sourceBucket,
			HTTP:     sourceHTTP,
		},
		PartSize:        *partSize,
		PartConcurrency: *concurrency,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		log.Fatalf("enginecopy: %v", err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatalf("enginecopy: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatalf("enginecopy: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *warm {
		if err := warmUp(ctx, engine, client, *destBucket, *key); err != nil {
			log.Fatalf("enginecopy: %v", err)
		}
	}
	start := time.Now()
	res, err := engine.Copy(ctx, *key, nil)
	end := time.Now()
	if err != nil {
		pprof.StopCPUProfile()
		log.Fatalf("enginecopy: %v", err)
	}
	if res.Outcome != transfer.OutcomeCopied || res.Bytes != res.Size {
		pprof.StopCPUProfile()
		log.Fatalf("enginecopy: outcome %s, %d of %d bytes: the bench needs a fresh, whole copy", res.Outcome, res.Bytes, res.Size)
	}
	if t != nil {
		fmt.Fprintf(os.Stderr, "%s: %.2fs inside Copy\n%s", *key, end.Sub(start).Seconds(), t.summary())
	}
	// The time inside Copy, without process start and SDK setup, tells the fixed cost
	// of a run apart from the copy itself.
	if err := childreport.Write(res.Bytes, start, end); err != nil {
		log.Fatal(err)
	}
}

// warmUp runs one copy and deletes its result, so the measured copy finds open
// connections and a heap that has already grown, as a warm Lambda container does.
func warmUp(ctx context.Context, engine *transfer.Engine, client *s3.Client, bucket, key string) error {
	res, err := engine.Copy(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("warm-up copy: %w", err)
	}
	if res.Outcome != transfer.OutcomeCopied {
		return fmt.Errorf("warm-up copy: outcome %s", res.Outcome)
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		return fmt.Errorf("delete warm-up copy: %w", err)
	}
	return nil
}
