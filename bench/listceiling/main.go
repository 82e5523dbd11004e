// Command listceiling is the listing ceiling of `make bench-list`: it lists
// the source (the XML API, signed) and the destination (the SDK's
// ListObjectsV2) at once, each over the same key ranges and with the same
// parallelism as backtoorigin verify, and only counts the keys: no
// ordering checks, no join, no report. It prints the two counts.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
)

func main() {
	log.SetFlags(0)
	srcEndpoint := flag.String("source-endpoint", "", "source XML API endpoint")
	srcBucket := flag.String("source-bucket", "", "source bucket")
	dstBucket := flag.String("bucket", "", "destination bucket")
	prefixes := flag.String("prefixes", "", "comma-separated prefixes (none: the whole bucket)")
	ranges := flag.Int("ranges", migrate.DefaultRanges, "ranges per prefix, listed in parallel")
	flag.Parse()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	dst := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	src := &migrate.XMLLister{Endpoint: *srcEndpoint, Bucket: *srcBucket, Region: cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("GCS_HMAC_ACCESS_KEY_ID"), os.Getenv("GCS_HMAC_SECRET"), "")}
	var ps []string
	if *prefixes != "" {
		ps = strings.Split(*prefixes, ",")
	}
	plan, err := migrate.PlanRanges(ctx, src, ps, *ranges)
	if err != nil {
		log.Fatal(err)
	}
	var srcKeys, dstKeys atomic.Int64
	var g errgroup.Group
	g.SetLimit(2 * *ranges)
	for _, r := range plan {
		g.Go(func() error { return listSource(ctx, src, r, &srcKeys) })
		g.Go(func() error { return listDest(ctx, dst, *dstBucket, r, &dstKeys) })
	}
	if err := g.Wait(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("source %d keys, destination %d keys\n", srcKeys.Load(), dstKeys.Load())
}

func listSource(ctx context.Context, l *migrate.XMLLister, r migrate.Range, n *atomic.Int64) error {
	token := ""
	for {
		objs, next, err := l.ListPage(ctx, r.Prefix, r.After, token, migrate.DefaultPageSize)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if r.Through != "" && o.Key > r.Through || !strings.HasPrefix(o.Key, r.Prefix) {
				return nil
			}
			n.Add(1)
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

func listDest(ctx context.Context, c *s3.Client, bucket string, r migrate.Range, n *atomic.Int64) error {
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(r.Prefix)}
	if r.After != "" {
		in.StartAfter = aws.String(r.After)
	}
	p := s3.NewListObjectsV2Paginator(c, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range out.Contents {
			if r.Through != "" && aws.ToString(o.Key) > r.Through {
				return nil
			}
			n.Add(1)
		}
	}
	return nil
}
