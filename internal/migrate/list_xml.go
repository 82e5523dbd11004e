package migrate

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// XMLLister lists a GCS bucket through its XML API (ListObjectsV2:
// list-type=2), anonymously or signed with an HMAC key, or any
// S3-compatible bucket the same way.
//
// It is not the SDK's ListObjectsV2: GCS's listing carries each object's
// <Generation>, which the stale check needs and the SDK's decoder drops,
// and the SDK signs Accept-Encoding, which Google's front end rewrites.
type XMLLister struct {
	Endpoint string // scheme://host[:port], e.g. https://storage.googleapis.com
	Bucket   string
	// Credentials sign with SigV4 (GCS HMAC keys); nil lists anonymously,
	// which GCS allows only on buckets that grant public listing.
	Credentials aws.CredentialsProvider
	Region      string // SigV4 region; GCS accepts "auto"
	HTTP        *http.Client
}

// Name implements Lister.
func (l *XMLLister) Name() string { return "source gs://" + l.Bucket }

type xmlListResult struct {
	IsTruncated           bool   `xml:"IsTruncated"`
	NextContinuationToken string `xml:"NextContinuationToken"`
	CommonPrefixes        []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
	Contents []struct {
		Key          string `xml:"Key"`
		Generation   string `xml:"Generation"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
	} `xml:"Contents"`
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

var signer = v4.NewSigner()

// ListPage implements Lister.
func (l *XMLLister) ListPage(ctx context.Context, prefix, startAfter, token string, pageSize int) ([]Object, string, error) {
	q := url.Values{"list-type": {"2"}, "max-keys": {strconv.Itoa(pageSize)}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if token != "" {
		q.Set("continuation-token", token)
	} else if startAfter != "" {
		q.Set("start-after", startAfter)
	}
	res, err := l.get(ctx, q)
	if err != nil {
		return nil, "", err
	}
	objs := make([]Object, 0, len(res.Contents))
	for _, c := range res.Contents {
		// No encoding-type=url: a server that ignores it (fake-gcs-server)
		// would send raw keys, and decoding those would turn a '+' into a space.
		modified, _ := time.Parse(time.RFC3339, c.LastModified)
		objs = append(objs, Object{Key: c.Key, Size: c.Size, Generation: c.Generation, LastModified: modified, ETag: c.ETag})
	}
	next := ""
	if res.IsTruncated {
		next = res.NextContinuationToken
		if next == "" {
			return nil, "", fmt.Errorf("listing of %s is truncated without a continuation token", l.Bucket)
		}
	}
	return objs, next, nil
}

// ListChildren implements ChildLister: one delimiter listing page.
func (l *XMLLister) ListChildren(ctx context.Context, prefix string, max int) ([]string, error) {
	q := url.Values{"list-type": {"2"}, "max-keys": {strconv.Itoa(max)}, "delimiter": {"/"}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	res, err := l.get(ctx, q)
	if err != nil {
		return nil, err
	}
	var children []string
	for _, p := range res.CommonPrefixes {
		children = append(children, p.Prefix)
	}
	for _, c := range res.Contents {
		children = append(children, c.Key)
	}
	slices.Sort(children)
	return children, nil
}

func (l *XMLLister) get(ctx context.Context, q url.Values) (*xmlListResult, error) {
	u, err := url.Parse(strings.TrimSuffix(l.Endpoint, "/") + "/" + url.PathEscape(l.Bucket))
	if err != nil {
		return nil, fmt.Errorf("source endpoint %q: %w", l.Endpoint, err)
	}
	// SigV4 wants the query sorted and %20 for spaces, as Encode then fixes.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if l.Credentials != nil {
		creds, err := l.Credentials.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("source credentials: %w", err)
		}
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		region := l.Region
		if region == "" {
			region = "auto"
		}
		if err := signer.SignHTTP(ctx, creds, req, emptySHA256, "s3", region, time.Now()); err != nil {
			return nil, fmt.Errorf("sign listing: %w", err)
		}
	}
	client := l.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &StatusError{Op: "list gs://" + l.Bucket, StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	var res xmlListResult
	if err := xml.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, fmt.Errorf("decode listing of %s: %w", l.Bucket, err)
	}
	return &res, nil
}

// StatusError is an unexpected HTTP status from a listing.
type StatusError struct {
	Op         string
	StatusCode int
	Body       string
}

func (e *StatusError) Error() string {
	hint := ""
	switch e.StatusCode {
	case http.StatusForbidden, http.StatusUnauthorized:
		hint = " (a bucket public through object ACLs cannot be listed anonymously: give an HMAC key with GCS_HMAC_ACCESS_KEY_ID and GCS_HMAC_SECRET)"
	case http.StatusNotFound:
		hint = " (no such bucket)"
	}
	return fmt.Sprintf("%s: HTTP %d%s: %s", e.Op, e.StatusCode, hint, e.Body)
}
