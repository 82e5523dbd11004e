// Command ceilingget is half of the benchmark's ceiling: it reads one source object with
// parallel ranged GETs (the same part size and concurrency as the copiers) and throws the
// bytes away, so it measures what the GCS stand-in can serve and nothing else.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backtoorigin/backtoorigin/bench/internal/childreport"
)

func main() {
	log.SetFlags(0)
	url := flag.String("url", "", "object URL on the GCS stand-in")
	size := flag.Int64("size", 0, "object size in bytes")
	partSize := flag.Int64("part-size", 16<<20, "bytes per ranged GET")
	concurrency := flag.Int("concurrency", 8, "ranged GETs in flight")
	waitGo := flag.Bool("wait-go", false, "print a ready line and wait for a line on stdin before starting")
	flag.Parse()
	if *url == "" || *size <= 0 || *partSize <= 0 || *concurrency <= 0 {
		log.Fatal("ceilingget: -url, -size, -part-size and -concurrency are required and positive")
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: *concurrency,
		DisableCompression:  true, // the stored bytes, as the engine asks for them
	}}
	if *waitGo {
		if err := childreport.WaitForGo(); err != nil {
			log.Fatal(err)
		}
	}
	start := time.Now()
	n, err := readAll(context.Background(), client, *url, *size, *partSize, *concurrency)
	end := time.Now()
	if err != nil {
		log.Fatalf("ceilingget: %v", err)
	}
	if n != *size {
		log.Fatalf("ceilingget: read %d bytes, want %d", n, *size)
	}
	if err := childreport.Write(n, start, end); err != nil {
		log.Fatal(err)
	}
}

// discard hides io.Discard's ReadFrom so io.CopyBuffer uses our large buffer: 8 KiB reads
// would understate the ceiling.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func readAll(ctx context.Context, client *http.Client, url string, size, partSize int64, concurrency int) (int64, error) {
	parts := (size + partSize - 1) / partSize
	var next, total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for {
				part := next.Add(1) - 1
				if part >= parts {
					return
				}
				first := part * partSize
				last := min(first+partSize, size) - 1
				n, err := getRange(ctx, client, url, first, last, buf)
				if err != nil {
					errs <- err
					return
				}
				total.Add(n)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return total.Load(), nil
}

func getRange(ctx context.Context, client *http.Client, url string, first, last int64, buf []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("build GET %s: %w", url, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET bytes %d-%d: %w", first, last, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return 0, fmt.Errorf("GET bytes %d-%d: status %s", first, last, resp.Status)
	}
	n, err := io.CopyBuffer(discard{}, resp.Body, buf)
	if err != nil {
		return n, fmt.Errorf("read bytes %d-%d: %w", first, last, err)
	}
	if want := last - first + 1; n != want {
		return n, fmt.Errorf("GET bytes %d-%d: got %d bytes, want %d", first, last, n, want)
	}
	return n, nil
}
