// Command ceilingput is the other half of the benchmark's ceiling: it generates the source
// object's bytes in memory first (not measured), then uploads them to the S3 stand-in as a
// multipart upload with the copiers' part size and concurrency, so it measures what MinIO
// can take in and nothing else.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backtoorigin/backtoorigin/bench/internal/childreport"
	"github.com/backtoorigin/backtoorigin/bench/internal/payload"
	"github.com/backtoorigin/backtoorigin/bench/internal/s3conn"
)

func main() {
	log.SetFlags(0)
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	bucket := flag.String("bucket", "", "destination bucket")
	key := flag.String("key", "", "destination key")
	size := flag.Int64("size", 0, "object size in bytes (the bytes are payload.New(size))")
	partSize := flag.Int64("part-size", 16<<20, "bytes per part")
	concurrency := flag.Int("concurrency", 8, "parts in flight")
	waitGo := flag.Bool("wait-go", false, "print a ready line and wait for a line on stdin before starting")
	checksums := flag.Bool("checksums", true, "send what the engine makes S3 check: each part's CRC32C, the full-object CRC32C on complete, If-None-Match (computed before the go signal, sent as headers)")
	flag.Parse()
	if *endpoint == "" || *bucket == "" || *key == "" || *size <= 0 || *partSize <= 0 || *concurrency <= 0 {
		log.Fatal("ceilingput: -endpoint, -bucket, -key, -size, -part-size and -concurrency are required")
	}
	client := s3conn.New(s3conn.Options{
		Endpoint:        *endpoint,
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Lean:            true,
	})
	data := payload.New(*size)
	var sums *checksumsOf
	if *checksums {
		sums = checksumsFor(data, *partSize)
	}
	if *waitGo {
		if err := childreport.WaitForGo(); err != nil {
			log.Fatal(err)
		}
	}
	ctx := context.Background()
	start := time.Now()
	err := put(ctx, client, *bucket, *key, data, *partSize, *concurrency, sums)
	end := time.Now()
	if err != nil {
		log.Fatalf("ceilingput: %v", err)
	}
	if err := childreport.Write(int64(len(data)), start, end); err != nil {
		log.Fatal(err)
	}
}

// checksumsOf are the CRC32Cs the engine has S3 check: the whole object's and each part's.
type checksumsOf struct {
	whole string
	parts []string
}

func checksumsFor(data []byte, partSize int64) *checksumsOf {
	c := &checksumsOf{whole: crc32cOf(data)}
	for off := int64(0); off < int64(len(data)); off += partSize {
		c.parts = append(c.parts, crc32cOf(data[off:min(off+partSize, int64(len(data)))]))
	}
	return c
}

func crc32cOf(b []byte) string {
	sum := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
}

// put mirrors the engine's shape: one PutObject up to a part, multipart above; with sums,
// the same checks the engine asks of S3 (sent as headers, where the engine, which learns a
// part's CRC32C only as it streams, sends a trailer).
func put(ctx context.Context, client *s3.Client, bucket, key string, data []byte, partSize int64, concurrency int, sums *checksumsOf) error {
	if int64(len(data)) <= partSize {
		in := &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		}
		if sums != nil {
			in.ChecksumCRC32C, in.IfNoneMatch = aws.String(sums.whole), aws.String("*")
		}
		if _, err := client.PutObject(ctx, in); err != nil {
			return fmt.Errorf("put object %q: %w", key, err)
		}
		return nil
	}
	create := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if sums != nil {
		create.ChecksumAlgorithm, create.ChecksumType = types.ChecksumAlgorithmCrc32c, types.ChecksumTypeFullObject
	}
	created, err := client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return fmt.Errorf("create multipart upload %q: %w", key, err)
	}
	parts, err := uploadParts(ctx, client, bucket, key, *created.UploadId, data, partSize, concurrency, sums)
	if err != nil {
		_, abortErr := client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: created.UploadId,
		})
		if abortErr != nil {
			return fmt.Errorf("%w (and abort failed: %v)", err, abortErr)
		}
		return err
	}
	complete := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if sums != nil {
		complete.ChecksumCRC32C, complete.ChecksumType, complete.IfNoneMatch = aws.String(sums.whole), types.ChecksumTypeFullObject, aws.String("*")
	}
	_, err = client.CompleteMultipartUpload(ctx, complete)
	if err != nil {
		return fmt.Errorf("complete multipart upload %q: %w", key, err)
	}
	return nil
}

func uploadParts(ctx context.Context, client *s3.Client, bucket, key, uploadID string, data []byte, partSize int64, concurrency int, sums *checksumsOf) ([]types.CompletedPart, error) {
	count := (int64(len(data)) + partSize - 1) / partSize
	parts := make([]types.CompletedPart, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= count {
					return
				}
				chunk := data[i*partSize : min((i+1)*partSize, int64(len(data)))]
				number := int32(i + 1)
				in := &s3.UploadPartInput{
					Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
					PartNumber: aws.Int32(number), Body: bytes.NewReader(chunk), ContentLength: aws.Int64(int64(len(chunk))),
				}
				if sums != nil {
					in.ChecksumCRC32C = aws.String(sums.parts[i])
				}
				out, err := client.UploadPart(ctx, in)
				if err != nil {
					errs <- fmt.Errorf("upload part %d of %q: %w", number, key, err)
					return
				}
				parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(number), ChecksumCRC32C: out.ChecksumCRC32C}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return parts, nil
}
