package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

func drain(t *testing.T, c *sqs.Client, url string) []sqstypes.Message {
	t.Helper()
	var all []sqstypes.Message
	for empty := 0; empty < 2; {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			all = append(all, m)
			if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return all
}

func TestRedriveMovesEveryUsableMessageAndKeepsTheRest(t *testing.T) {
	ctx := context.Background()
	srv := standin.NewSQS(t)
	c := srv.Client()
	dlq, err := srv.CreateQueue(ctx, "dlq.fifo", true)
	if err != nil {
		t.Fatal(err)
	}
	queue, err := srv.CreateQueue(ctx, "transfer.fifo", true)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	put := func(group, body, reason string) {
		n++
		in := &sqs.SendMessageInput{QueueUrl: &dlq, MessageBody: &body, MessageGroupId: &group, MessageDeduplicationId: aws.String(fmt.Sprint(n))}
		if reason != "" {
			in.MessageAttributes = map[string]sqstypes.MessageAttributeValue{"reason": {DataType: aws.String("String"), StringValue: &reason}}
		}
		if _, err := c.SendMessage(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	wrap := func(reason, body string) string {
		b, _ := json.Marshal(map[string]string{"reason": reason, "messageId": "m", "body": body})
		return string(b)
	}
	msg := func(key string, noProgress int) string {
		m := queuemsg.Message{V: 1, Key: key}
		if noProgress > 0 {
			m.Resume = &transfer.Resume{UploadID: "u", Generation: "1", PartSize: 16 << 20, NoProgress: noProgress}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	// At the head of the "malformed" group, a body that will never parse;
	// behind it, more than one receive's worth of usable ones.
	put("malformed", wrap("invalid JSON", "not json"), "invalid JSON")
	var want []string
	for i := range 12 {
		k := fmt.Sprintf("wrapped/%02d", i)
		want = append(want, k)
		put("malformed", wrap("unsupported version", msg(k, 0)), "unsupported version")
	}
	put("no-progress", wrap("no part finished", msg("slow/big.bin", transfer.MaxNoProgress)), "no part finished")
	put(queuemsg.KeyHash("after/five/receives"), msg("after/five/receives", 0), "") // moved by SQS itself
	want = append(want, "slow/big.bin", "after/five/receives")

	var shown []Redriven
	sum, err := Redrive(ctx, RedriveOptions{Queue: c, DLQURL: dlq, QueueURL: queue, DryRun: true, OnMessage: func(r Redriven) { shown = append(shown, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Moved == 0 || len(shown) == 0 || len(drain(t, c, queue)) != 0 {
		t.Fatalf("dry run: %+v, showed %d, or moved something", sum, len(shown))
	}

	sum, err = Redrive(ctx, RedriveOptions{Queue: c, DLQURL: dlq, QueueURL: queue})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Moved != len(want) || sum.Kept != 1 {
		t.Fatalf("summary %+v, want %d moved and 1 kept", sum, len(want))
	}
	var got []string
	for _, m := range drain(t, c, queue) {
		parsed, err := queuemsg.Parse(aws.ToString(m.Body))
		if err != nil {
			t.Fatalf("moved a body the transfer rejects: %q: %v", aws.ToString(m.Body), err)
		}
		if m.Attributes["MessageGroupId"] != queuemsg.KeyHash(parsed.Key) {
			t.Fatalf("%s moved in group %q, want its own", parsed.Key, m.Attributes["MessageGroupId"])
		}
		if parsed.Resume != nil && parsed.Resume.NoProgress != 0 {
			t.Fatalf("%s: no-progress count not reset: %+v", parsed.Key, parsed.Resume)
		}
		got = append(got, parsed.Key)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("moved %q\nwant  %q", got, want)
	}
	left := drain(t, c, dlq)
	if len(left) != 1 || aws.ToString(left[0].MessageAttributes["reason"].StringValue) != "invalid JSON" {
		t.Fatalf("left in the dead-letter queue: %+v", left)
	}
}
