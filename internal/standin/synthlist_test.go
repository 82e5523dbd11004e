package standin

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestSyntheticS3ListsThePairInOrderWithItsMix pages both buckets through
// the SDK, a few keys a page, and checks the order and the mix that
// Counts promises.
func TestSyntheticS3ListsThePairInOrderWithItsMix(t *testing.T) {
	pair := SyntheticPair{Keys: 1234}
	srv := StartSyntheticS3(pair)
	defer srv.Close()
	c := NewS3Client(srv.Endpoint, "synthetic", "synthetic")
	ctx := context.Background()
	list := func(bucket, prefix, startAfter string) map[string]int64 {
		t.Helper()
		in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(7)}
		if startAfter != "" {
			in.StartAfter = aws.String(startAfter)
		}
		keys, last := map[string]int64{}, ""
		for p := s3.NewListObjectsV2Paginator(c, in); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Contents) > 7 {
				t.Fatalf("%d keys in a page of 7", len(out.Contents))
			}
			for _, o := range out.Contents {
				k := aws.ToString(o.Key)
				if k <= last || !strings.HasPrefix(k, prefix) || k <= startAfter {
					t.Fatalf("%s: %q after %q (prefix %q, start-after %q)", bucket, k, last, prefix, startAfter)
				}
				last, keys[k] = k, aws.ToInt64(o.Size)
			}
		}
		return keys
	}
	src, dst := list(SyntheticSource, "", ""), list(SyntheticDest, "", "")
	var got SyntheticCounts
	got.Source = len(src)
	for k, size := range src {
		switch d, ok := dst[k]; {
		case !ok:
			got.Missing++
		case d != size:
			got.Stale++
		}
	}
	for k := range dst {
		if _, ok := src[k]; !ok {
			got.Extra++
		}
	}
	if want := pair.Counts(); got != want {
		t.Fatalf("listed %+v, want %+v", got, want)
	}
	if n := len(list(SyntheticSource, "1", "10/00000100.bin")); n == 0 || n >= 1234/16 {
		t.Fatalf("prefix 1 after 10/00000100.bin: %d keys", n)
	}

	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(SyntheticSource), Delimiter: aws.String("/"), MaxKeys: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CommonPrefixes) != 100 || !aws.ToBool(out.IsTruncated) || aws.ToString(out.CommonPrefixes[0].Prefix) != "00/" {
		t.Fatalf("delimiter listing: %d prefixes, truncated %v", len(out.CommonPrefixes), aws.ToBool(out.IsTruncated))
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(SyntheticSource), Delimiter: aws.String("/"), ContinuationToken: out.NextContinuationToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CommonPrefixes) != 156 || aws.ToString(out.CommonPrefixes[0].Prefix) != "64/" {
		t.Fatalf("second delimiter page: %d prefixes from %q", len(out.CommonPrefixes), aws.ToString(out.CommonPrefixes[0].Prefix))
	}
	if conns, requests := srv.Counts(); conns == 0 || requests < 1234/7 {
		t.Fatalf("counted %d connections, %d requests", conns, requests)
	}
}
