// Command smallceiling is the small-objects bench's ceiling: the stand-ins
// serving the same GETs and PUTs a copy of the object list makes, at once,
// with no copier in between. GET workers read every object from the GCS
// stand-in (whole, or in part-sized ranges above the part size) and discard
// the bytes; PUT workers, at the same time, write every object to the S3
// stand-in from memory (one PutObject with If-None-Match and its CRC32C,
// or a multipart upload above the part size). Both use the engine's HTTP
// stack: transfer.NewSourceHTTPClient for reads, the function's SDK client
// (transferlambda.HTTPClient, unsigned payloads) for writes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backtoorigin/backtoorigin/bench/internal/childreport"
	"github.com/backtoorigin/backtoorigin/bench/internal/payload"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

type object struct {
	key  string
	size int64
	crc  string // CRC32C of the bytes PUT, base64
}

func main() {
	log.SetFlags(0)
	objectsFile := flag.String("objects", "", "file of \"size key\" lines")
	sourceURL := flag.String("source", "", "GCS stand-in endpoint")
	sourceBucket := flag.String("source-bucket", "", "source bucket")
	destBucket := flag.String("dest-bucket", "", "destination bucket")
	concurrency := flag.Int("concurrency", 16, "GETs in flight, and PUTs in flight")
	partSize := flag.Int64("part-size", transfer.DefaultPartSize, "objects above this go in ranged GETs and multipart uploads")
	waitGo := flag.Bool("wait-go", false, "print a ready line and wait for a line on stdin before starting")
	flag.Parse()
	objects, err := readObjects(*objectsFile)
	if err != nil {
		log.Fatalf("smallceiling: %v", err)
	}
	ctx := context.Background()
	lambdaCfg := transferlambda.Config{PartConcurrency: *concurrency, BatchConcurrency: *concurrency}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(transferlambda.HTTPClient(lambdaCfg)))
	if err != nil {
		log.Fatalf("smallceiling: %v", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
	source := transfer.NewSourceHTTPClient()
	source.Transport.(*http.Transport).MaxIdleConnsPerHost = lambdaCfg.Connections()

	// From memory: one buffer holds the largest object; each PUT sends a prefix.
	var largest int64
	for _, o := range objects {
		largest = max(largest, o.size)
	}
	data := payload.New(largest)
	for i := range objects {
		objects[i].crc = crc32c(data[:objects[i].size])
	}
	if *waitGo {
		if err := childreport.WaitForGo(); err != nil {
			log.Fatal(err)
		}
	}
	start := time.Now()
	var total atomic.Int64
	errs := make(chan error, 2**concurrency)
	var wg sync.WaitGroup
	run := func(work func(object) error) {
		var next atomic.Int64
		for range *concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(len(objects)) {
						return
					}
					if err := work(objects[i]); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	buf := sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
	run(func(o object) error {
		b := buf.Get().(*[]byte)
		defer buf.Put(b)
		if o.size <= *partSize {
			n, err := get(ctx, source, *sourceURL+"/"+*sourceBucket+"/"+o.key, "", *b)
			total.Add(n)
			return err
		}
		for off := int64(0); off < o.size; off += *partSize {
			n, err := get(ctx, source, *sourceURL+"/"+*sourceBucket+"/"+o.key, fmt.Sprintf("bytes=%d-%d", off, min(off+*partSize, o.size)-1), *b)
			total.Add(n)
			if err != nil {
				return err
			}
		}
		return nil
	})
	run(func(o object) error { return put(ctx, client, *destBucket, o, data[:o.size], *partSize) })
	wg.Wait()
	end := time.Now()
	close(errs)
	if err := <-errs; err != nil {
		log.Fatalf("smallceiling: %v", err)
	}
	if err := childreport.Write(total.Load(), start, end); err != nil {
		log.Fatal(err)
	}
}

func crc32c(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// discard hides io.Discard's ReadFrom so io.CopyBuffer uses the given buffer.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func get(ctx context.Context, client *http.Client, url, rng string, buf []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.CopyBuffer(discard{}, resp.Body, buf)
}

func put(ctx context.Context, client *s3.Client, bucket string, o object, data []byte, partSize int64) error {
	if o.size <= partSize {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &bucket, Key: &o.key, Body: bytes.NewReader(data), ContentLength: aws.Int64(o.size),
			IfNoneMatch: aws.String("*"), ChecksumCRC32C: aws.String(o.crc),
		})
		if err != nil {
			return fmt.Errorf("put %q: %w", o.key, err)
		}
		return nil
	}
	created, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &o.key})
	if err != nil {
		return fmt.Errorf("create upload %q: %w", o.key, err)
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < o.size; off, n = off+partSize, n+1 {
		chunk := data[off:min(off+partSize, o.size)]
		out, err := client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &bucket, Key: &o.key, UploadId: created.UploadId, PartNumber: aws.Int32(n),
			Body: bytes.NewReader(chunk), ContentLength: aws.Int64(int64(len(chunk))),
		})
		if err != nil {
			return fmt.Errorf("upload part %d of %q: %w", n, o.key, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &o.key, UploadId: created.UploadId, IfNoneMatch: aws.String("*"),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("complete %q: %w", o.key, err)
	}
	return nil
}

func readObjects(path string) ([]object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []object
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		size, key, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, object{key: key, size: n})
	}
	return out, sc.Err()
}
