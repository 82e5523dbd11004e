package migrate

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// RedriveQueue is the part of the SQS client a redrive uses.
type RedriveQueue interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

var _ RedriveQueue = (*sqs.Client)(nil)

// RedriveOptions configure Redrive.
type RedriveOptions struct {
	Queue    RedriveQueue
	DLQURL   string
	QueueURL string
	DryRun   bool // show what would move; move nothing
	Max      int  // stop after this many messages (0: until the DLQ is empty)
	// Visibility is how long a received message stays hidden while it is
	// moved (seconds, default 60).
	Visibility int32
	// OnMessage is told about each message, moved or kept.
	OnMessage func(Redriven)
}

// Redriven is one dead-lettered message and what became of it.
type Redriven struct {
	MessageID string `json:"messageId"`
	Key       string `json:"key,omitempty"`
	Reason    string `json:"reason,omitempty"` // why it was dead-lettered, when the handler said
	Action    string `json:"action"`           // "moved", "would move", "kept"
	Why       string `json:"why,omitempty"`    // why it was kept
	Body      string `json:"body"`             // what goes (or would go) to the transfer queue
}

// RedriveSummary counts a redrive.
type RedriveSummary struct {
	Moved int `json:"moved"`
	Kept  int `json:"kept"` // still unusable: left in the dead-letter queue
}

// Redrive moves dead-lettered messages back to the transfer queue. The
// transfer handler files a malformed or no-progress message as a wrapper
// {reason, messageId, body} (readable in the console: why, next to what);
// SQS's own redrive after five receives keeps the original body. Both are
// moved as the original transfer message, in the key's own message group
// (sha256 hex of the key) so the transfer keeps one copy per key at a
// time. A body that still does not parse is kept in the dead-letter queue
// and reported. A message is deleted from the dead-letter queue only after
// the transfer queue accepted it; its deduplication id derives from its
// dead-letter message id, so a redrive that stops between the two and runs
// again within five minutes does not queue it twice.
//
// A message that stays (its body still does not parse) is sent again to
// the dead-letter queue's end and then deleted, because in a FIFO queue a
// message left at the head of its group holds back every message behind
// it. Its copy carries this run's id in the attribute keptAttribute; when
// such a copy comes round again, its group has been gone through.
func Redrive(ctx context.Context, opts RedriveOptions) (sum RedriveSummary, err error) {
	if opts.Visibility <= 0 {
		opts.Visibility = 60
	}
	run := rand.Text()
	var held []*string // receipt handles to make visible again at the end
	defer func() {
		// Shown (dry run) or come round again: visible again at once, so
		// nothing waits out a visibility timeout after this run.
		ctx := context.WithoutCancel(ctx)
		for _, h := range held {
			if _, verr := opts.Queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &opts.DLQURL, ReceiptHandle: h, VisibilityTimeout: 0}); verr != nil && err == nil {
				err = fmt.Errorf("make a dead-letter message visible again (it will be after %d s): %w", opts.Visibility, verr)
			}
		}
	}()
	for empty := 0; empty < 2; {
		if opts.Max > 0 && sum.Moved+sum.Kept >= opts.Max {
			break
		}
		out, err := opts.Queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &opts.DLQURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: opts.Visibility,
			MessageAttributeNames: []string{"All"},
			// The deprecated AttributeNames as well: local-aws-sqs reads only it.
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			return sum, fmt.Errorf("receive from the dead-letter queue: %w", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			if opts.Max > 0 && sum.Moved+sum.Kept >= opts.Max {
				held = append(held, m.ReceiptHandle)
				continue
			}
			if a, ok := m.MessageAttributes[keptAttribute]; ok && aws.ToString(a.StringValue) == run {
				held = append(held, m.ReceiptHandle) // its group is done
				continue
			}
			r := unwrap(m)
			switch {
			case opts.DryRun:
				held = append(held, m.ReceiptHandle)
				if r.Action == "kept" {
					sum.Kept++
				} else {
					r.Action = "would move"
					sum.Moved++
				}
			case r.Action == "kept":
				if err := keep(ctx, opts, m, run); err != nil {
					return sum, err
				}
				sum.Kept++
			default:
				if err := move(ctx, opts, m, r); err != nil {
					return sum, err
				}
				r.Action = "moved"
				sum.Moved++
			}
			if opts.OnMessage != nil {
				opts.OnMessage(r)
			}
		}
	}
	return sum, nil
}

// keptAttribute marks a message this run sent back to the dead-letter
// queue's end.
const keptAttribute = "redrive-kept"

func move(ctx context.Context, opts RedriveOptions, m sqstypes.Message, r Redriven) error {
	_, err := opts.Queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: &opts.QueueURL, MessageBody: &r.Body,
		MessageGroupId:         aws.String(queuemsg.KeyHash(r.Key)),
		MessageDeduplicationId: aws.String(queuemsg.KeyHash("redrive\x00" + aws.ToString(m.MessageId))),
	})
	if err != nil {
		return fmt.Errorf("send %q to the transfer queue (it stays in the dead-letter queue): %w", r.Key, err)
	}
	if _, err := opts.Queue.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &opts.DLQURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
		return fmt.Errorf("delete %q from the dead-letter queue after moving it (a second redrive within five minutes will not queue it twice): %w", r.Key, err)
	}
	return nil
}

// keep sends m again to the dead-letter queue's end, as it is, then
// deletes the original.
func keep(ctx context.Context, opts RedriveOptions, m sqstypes.Message, run string) error {
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m.MessageAttributes {
		attrs[k] = v
	}
	attrs[keptAttribute] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(run)}
	group := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)]
	if group == "" {
		group = "malformed"
	}
	if _, err := opts.Queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: &opts.DLQURL, MessageBody: m.Body, MessageAttributes: attrs,
		MessageGroupId:         &group,
		MessageDeduplicationId: aws.String(queuemsg.KeyHash("kept\x00" + run + "\x00" + aws.ToString(m.MessageId))),
	}); err != nil {
		return fmt.Errorf("keep a dead-letter message (it stays where it is): %w", err)
	}
	if _, err := opts.Queue.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &opts.DLQURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
		return fmt.Errorf("delete a dead-letter message after keeping its copy: %w", err)
	}
	return nil
}

// deadLetter is the transfer handler's wrapper (transferlambda.DeadLetter).
type deadLetter struct {
	Reason    *string `json:"reason"`
	MessageID string  `json:"messageId"`
	Body      *string `json:"body"`
}

func unwrap(m sqstypes.Message) Redriven {
	r := Redriven{MessageID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}
	if a, ok := m.MessageAttributes["reason"]; ok {
		r.Reason = aws.ToString(a.StringValue)
	}
	var w deadLetter
	if json.Unmarshal([]byte(r.Body), &w) == nil && w.Reason != nil && w.Body != nil {
		r.Body, r.Reason = *w.Body, *w.Reason
	}
	msg, err := queuemsg.Parse(r.Body)
	if err != nil {
		r.Action, r.Why = "kept", err.Error()
		return r
	}
	r.Key = msg.Key
	if msg.Resume != nil && msg.Resume.NoProgress >= transfer.MaxNoProgress {
		// A copy that ended without progress: start its count again, or
		// the first continuation would end it at once.
		msg.Resume.NoProgress = 0
		b, _ := json.Marshal(msg)
		r.Body = string(b)
	}
	r.Action = "move"
	return r
}
