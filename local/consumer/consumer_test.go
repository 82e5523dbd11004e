package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// scriptedFunction fails the records whose body is in failBodies, and
// records every event it gets.
type scriptedFunction struct {
	mu         sync.Mutex
	failBodies map[string]bool
	crash      bool
	events     []events.SQSEvent
}

var _ Invoker = (*scriptedFunction)(nil)

func (f *scriptedFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	if f.crash {
		return nil, fmt.Errorf("function error")
	}
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		if f.failBodies[r.Body] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return json.Marshal(resp)
}

func (f *scriptedFunction) deliveries(body string) []events.SQSMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []events.SQSMessage
	for _, ev := range f.events {
		for _, r := range ev.Records {
			if r.Body == body {
				out = append(out, r)
			}
		}
	}
	return out
}

// queues creates a FIFO queue redriving to a FIFO dead-letter queue after
// maxReceives, with a one-second visibility timeout.
func queues(t *testing.T, maxReceives int) (client *sqs.Client, queueURL, queueARN, dlqURL string) {
	t.Helper()
	ctx := context.Background()
	srv := standin.NewSQS(t)
	client = srv.Client()
	dlqURL, err := srv.CreateQueue(ctx, "dlq", true)
	if err != nil {
		t.Fatal(err)
	}
	arn := func(u string) string {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["QueueArn"]
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": arn(dlqURL), "maxReceiveCount": maxReceives})
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work.fifo"), Attributes: map[string]string{
		"FifoQueue": "true", "VisibilityTimeout": "1", "RedrivePolicy": string(redrive),
	}})
	if err != nil {
		t.Fatal(err)
	}
	queueURL = aws.ToString(out.QueueUrl)
	return client, queueURL, arn(queueURL), dlqURL
}

func send(t *testing.T, client *sqs.Client, queueURL, body string) {
	t.Helper()
	if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(queueURL), MessageBody: aws.String(body),
		MessageGroupId: aws.String("g-" + body), MessageDeduplicationId: aws.String("d-" + body),
	}); err != nil {
		t.Fatal(err)
	}
}

func depth(t *testing.T, client *sqs.Client, queueURL string) int {
	t.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The stand-in counts in-flight messages in ApproximateNumberOfMessages
	// too, so the larger of the two is the total there.
	visible, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return max(visible, inFlight)
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBatchFailuresAreRedeliveredThenDeadLettered(t *testing.T) {
	client, queueURL, queueARN, dlqURL := queues(t, 2)
	fn := &scriptedFunction{failBodies: map[string]bool{"bad": true}}
	for _, body := range []string{"good-1", "bad", "good-2"} {
		send(t, client, queueURL, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := Start(ctx, Config{Queue: client, QueueURL: queueURL, QueueARN: queueARN, Region: "us-east-1", BatchSize: 4, Instances: []Invoker{fn}})
	defer func() { cancel(); c.Wait() }()

	waitUntil(t, 15*time.Second, "failing message in the dead-letter queue", func() bool { return depth(t, client, dlqURL) == 1 })
	waitUntil(t, 5*time.Second, "empty work queue", func() bool { return depth(t, client, queueURL) == 0 })

	for _, body := range []string{"good-1", "good-2"} {
		if n := len(fn.deliveries(body)); n != 1 {
			t.Errorf("%s delivered %d times, want once (acknowledged records must be deleted)", body, n)
		}
	}
	bad := fn.deliveries("bad")
	if len(bad) != 2 {
		t.Fatalf("failing message delivered %d times, want 2 (maxReceiveCount)", len(bad))
	}
	for i, r := range bad {
		if got := r.Attributes["ApproximateReceiveCount"]; got != strconv.Itoa(i+1) {
			t.Errorf("delivery %d: ApproximateReceiveCount %q", i+1, got)
		}
		if r.Attributes["MessageGroupId"] != "g-bad" || r.EventSourceARN != queueARN || r.EventSource != "aws:sqs" || r.AWSRegion != "us-east-1" || r.ReceiptHandle == "" || r.Md5OfBody == "" {
			t.Errorf("delivery %d is not shaped like Lambda's: %+v", i+1, r)
		}
	}
}

func TestFunctionErrorLeavesTheWholeBatch(t *testing.T) {
	client, queueURL, queueARN, _ := queues(t, 5)
	fn := &scriptedFunction{crash: true}
	send(t, client, queueURL, "a")
	send(t, client, queueURL, "b")
	ctx, cancel := context.WithCancel(context.Background())
	c := Start(ctx, Config{Queue: client, QueueURL: queueURL, QueueARN: queueARN, Region: "us-east-1", Instances: []Invoker{fn}})
	waitUntil(t, 10*time.Second, "a redelivery of both messages", func() bool {
		return len(fn.deliveries("a")) >= 2 && len(fn.deliveries("b")) >= 2
	})
	cancel()
	c.Wait()
	if n := depth(t, client, queueURL); n != 2 {
		t.Errorf("queue holds %d messages, want both still there", n)
	}
}
