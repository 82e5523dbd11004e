package standin

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestGCSStandInServesPinnedGenerationsAndMetadata(t *testing.T) {
	g := NewGCS(t)
	g.CreateBucket("src", true)
	first := g.MustPutObject(t, GCSObject{Bucket: "src", Key: "dir/a b.txt", Content: []byte("one"),
		ContentType: "text/plain", Metadata: map[string]string{"owner": "x"}})
	g.MustPutObject(t, GCSObject{Bucket: "src", Key: "dir/a b.txt", Content: []byte("two")})

	get := func(query string) (*http.Response, string) {
		resp, err := http.Get(g.URL + "/src/dir/a%20b.txt" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("?generation=" + strconv.FormatInt(first.Generation, 10))
	if resp.StatusCode != 200 || body != "one" {
		t.Fatalf("pinned generation: %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Goog-Meta-Owner") != "x" || !strings.HasPrefix(resp.Header.Get("X-Goog-Hash"), "crc32c=") {
		t.Fatalf("headers: %v", resp.Header)
	}
	if _, body := get(""); body != "two" {
		t.Fatalf("latest: %q", body)
	}
}

func TestSQSStandInKeepsFIFOAttributes(t *testing.T) {
	s := NewSQS(t)
	ctx := context.Background()
	url, err := s.CreateQueue(ctx, "dlq", true)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client()
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(url), MessageBody: aws.String("{}"),
		MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"reason": {DataType: aws.String("String"), StringValue: aws.String("bad json")},
		},
	}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MessageAttributeNames: []string{"All"}, MaxNumberOfMessages: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].MessageAttributes["reason"].StringValue) != "bad json" {
		t.Fatalf("received %+v", out.Messages)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("{}")}); err == nil {
		t.Fatal("FIFO queue accepted a message without a group id")
	}
}
