package front_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/local/cfn"
	"github.com/backtoorigin/backtoorigin/local/edgerun"
	"github.com/backtoorigin/backtoorigin/local/front"
	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// passThrough is an origin-response handler that changes nothing.
type passThrough struct{}

func (passThrough) Invoke(_ context.Context, ev edgerun.Event, _ edgerun.Context) (edgerun.Response, error) {
	return ev.Records[0].CF.Response, nil
}

var _ front.Edge = passThrough{}

// Without a viewer-request function a literal "+" reaches S3, which reads it
// as a space: the front's signature must hold for that reading, or S3 would
// answer 403 and hide the difference behind a failover.
func TestS3ReadsALiteralPlusAsASpaceAndAcceptsTheSignature(t *testing.T) {
	ctx := context.Background()
	s3srv := standin.NewS3(t)
	const bucket = "front-test"
	if err := s3srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{"x/a b.txt": "space", "x/a+b.txt": "plus"} {
		if _, err := s3srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	target, _ := url.Parse(s3srv.Endpoint)
	plus := httptest.NewServer(proxy.NewS3PlusAsSpace(target))
	defer plus.Close()
	gcs := standin.NewGCS(t)
	gcs.CreateBucket("empty", false)

	srv := httptest.NewServer(front.New(front.Config{
		S3Endpoint:    plus.URL,
		S3Bucket:      bucket,
		S3Credentials: aws.Credentials{AccessKeyID: s3srv.AccessKeyID, SecretAccessKey: s3srv.SecretAccessKey},
		GCSEndpoint:   gcs.URL,
		GCSBucket:     "empty",
		Edge:          passThrough{},
	}))
	defer srv.Close()

	for path, want := range map[string]string{"/x/a+b.txt": "space", "/x/a%2Bb.txt": "plus", "/x/a%20b.txt": "space"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get(front.OriginHeader) != "s3" {
			t.Errorf("GET %s: %d %q from %q, want 200 %q from s3", path, resp.StatusCode, body, resp.Header.Get(front.OriginHeader), want)
		}
	}
}

// rewriter is an origin-request function that sends the source request for
// another key and leaves the S3 request alone.
type rewriter struct{}

func (rewriter) OriginRequest(_ context.Context, ev edgerun.RequestEvent, _ edgerun.Context) (edgerun.Request, error) {
	req := ev.Records[0].CF.Request
	if req.Origin.Custom != nil {
		req.URI = "/other.txt"
	}
	return req, nil
}

// With an origin-request association the front sends what the function
// returns: here the source serves the key the function chose.
func TestTheOriginRequestFunctionsRequestIsWhatIsSent(t *testing.T) {
	ctx := context.Background()
	s3srv := standin.NewS3(t)
	const bucket = "front-test"
	if err := s3srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	gcs := standin.NewGCS(t)
	gcs.CreateBucket("src", false)
	for key, body := range map[string]string{"asked.txt": "asked", "other.txt": "rewritten"} {
		if _, err := gcs.PutObject(standin.GCSObject{Bucket: "src", Key: key, Content: []byte(body), ContentType: "text/plain"}); err != nil {
			t.Fatal(err)
		}
	}
	var calls []front.OriginRequestCall
	srv := httptest.NewServer(front.New(front.Config{
		S3Endpoint:    s3srv.Endpoint,
		S3Bucket:      bucket,
		S3Credentials: aws.Credentials{AccessKeyID: s3srv.AccessKeyID, SecretAccessKey: s3srv.SecretAccessKey},
		GCSEndpoint:   gcs.URL,
		GCSBucket:     "src",
		GCSDomainName: "storage.googleapis.com",
		Edge:          passThrough{},
		OriginRequest: rewriter{},
		Distribution: &cfn.Distribution{FailoverToGCS: true, FailoverCodes: []int{403, 404}, AllowedMethods: []string{"GET", "HEAD"},
			OriginResponse: true, OriginRequest: &cfn.EdgeFunction{}},
		Observe: func(ex front.Exchange) { calls = ex.OriginRequests },
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/asked.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "rewritten" || resp.Header.Get(front.OriginHeader) != "gcs" {
		t.Errorf("GET /asked.txt: %d %q from %q, want the rewritten key's bytes from gcs", resp.StatusCode, body, resp.Header.Get(front.OriginHeader))
	}
	if len(calls) != 2 || calls[0].Origin != "s3" || calls[1].Origin != "gcs" || calls[0].Sent.Origin.S3 == nil ||
		calls[1].Sent.Origin.Custom == nil || calls[1].Sent.Headers["host"][0].Value != "storage.googleapis.com" {
		t.Errorf("origin-request calls: %+v", calls)
	}
}
