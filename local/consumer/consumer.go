// Package consumer plays the part of Lambda's SQS event source mapping for
// the local harness: it long-polls the transfer queue, delivers batches to
// the transfer function as the events.SQSEvent Lambda builds, deletes the
// messages the function acknowledged and leaves the ones it reported in
// BatchItemFailures (or the whole batch, on a function error) to come back
// after the visibility timeout. The dead-letter queue is the queue's own
// RedrivePolicy, as in the stack.
//
// It is a test and demo harness; nothing here is deployed.
package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// idlePoll is the pause after an empty receive.
const idlePoll = 100 * time.Millisecond

// Invoker runs one invocation of the transfer function.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Queue is the part of the SQS API the consumer uses.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Config wires a consumer.
type Config struct {
	Queue    Queue
	QueueURL string
	QueueARN string // eventSourceARN in every record
	Region   string
	// BatchSize is the event source mapping's batch size (1..10).
	BatchSize int32
	// Instances are the concurrent execution environments; each polls on
	// its own, like Lambda scaling up pollers.
	Instances []Invoker
	// Observe, if set, is told about every delivery and its outcome.
	Observe func(Delivery)
	// LoseAck, if set, is asked about every acknowledged record: true
	// leaves it in the queue, as if its deletion were lost, so it is
	// delivered again after the visibility timeout (a fault for soaks).
	LoseAck func(events.SQSMessage) bool
}

// Delivery is one batch handed to the function and what became of it.
type Delivery struct {
	Records  []events.SQSMessage
	Failed   map[string]bool // message ids left for redelivery
	AckLost  map[string]bool // acknowledged, left undeleted by Config.LoseAck
	Err      error           // function error: the whole batch is left
	Duration time.Duration
}

// Consumer polls until its context ends.
type Consumer struct {
	cfg Config
	wg  sync.WaitGroup
}

// Start begins polling with one goroutine per instance. Stop with the
// context, then Wait.
func Start(ctx context.Context, cfg Config) *Consumer {
	if cfg.BatchSize <= 0 || cfg.BatchSize > 10 {
		cfg.BatchSize = 10
	}
	c := &Consumer{cfg: cfg}
	for _, inv := range cfg.Instances {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.poll(ctx, inv)
		}()
	}
	return c
}

// Wait returns when every poller has stopped (after the context ended and
// in-flight invocations returned).
func (c *Consumer) Wait() { c.wg.Wait() }

func (c *Consumer) poll(ctx context.Context, inv Invoker) {
	for ctx.Err() == nil {
		out, err := c.cfg.Queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(c.cfg.QueueURL),
			MaxNumberOfMessages: c.cfg.BatchSize,
			// Short polls with a pause after empty ones stand in for long
			// polling: the stand-in's long poll waits out the whole
			// WaitTimeSeconds to fill a batch (real SQS returns as soon as
			// a message is there), which adds that much latency and, with
			// a visibility timeout as short, delivers a message twice in
			// one batch.
			WaitTimeSeconds: 0,
			// The deprecated AttributeNames, because the SQS stand-in
			// (local-aws-sqs 2.0.2) ignores MessageSystemAttributeNames; real
			// SQS honours both.
			AttributeNames:        []types.QueueAttributeName{types.QueueAttributeNameAll},
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			if ctx.Err() == nil {
				c.observe(Delivery{Err: fmt.Errorf("receive from %s: %w", c.cfg.QueueURL, err)})
				sleep(ctx, 500*time.Millisecond)
			}
			continue
		}
		if len(out.Messages) == 0 {
			sleep(ctx, idlePoll)
			continue
		}
		c.deliver(ctx, inv, out.Messages)
	}
}

func (c *Consumer) deliver(ctx context.Context, inv Invoker, msgs []types.Message) {
	ev := c.Event(msgs)
	payload, err := json.Marshal(ev)
	if err != nil {
		c.observe(Delivery{Records: ev.Records, Err: fmt.Errorf("encode SQS event: %w", err)})
		return
	}
	start := time.Now()
	out, err := inv.Invoke(ctx, payload)
	d := Delivery{Records: ev.Records, Duration: time.Since(start)}
	if err != nil {
		// A function error leaves the whole batch for redelivery.
		d.Err = err
		c.observe(d)
		return
	}
	d.Failed, err = failedIDs(out, ev.Records)
	if err != nil {
		d.Err = err
		c.observe(d)
		return
	}
	var entries []types.DeleteMessageBatchRequestEntry
	for i, r := range ev.Records {
		if d.Failed[r.MessageId] {
			continue
		}
		if c.cfg.LoseAck != nil && c.cfg.LoseAck(r) {
			if d.AckLost == nil {
				d.AckLost = map[string]bool{}
			}
			d.AckLost[r.MessageId] = true
			continue
		}
		entries = append(entries, types.DeleteMessageBatchRequestEntry{
			Id:            aws.String(fmt.Sprintf("m%d", i)),
			ReceiptHandle: aws.String(r.ReceiptHandle),
		})
	}
	if len(entries) > 0 {
		// Not bound to ctx: a batch the function finished is deleted even
		// while shutting down, so it is not copied again.
		delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		res, err := c.cfg.Queue.DeleteMessageBatch(delCtx, &sqs.DeleteMessageBatchInput{
			QueueUrl: aws.String(c.cfg.QueueURL),
			Entries:  entries,
		})
		cancel()
		switch {
		case err != nil:
			d.Err = fmt.Errorf("delete acknowledged messages: %w", err)
		case len(res.Failed) > 0:
			d.Err = fmt.Errorf("delete acknowledged messages: %d failed, first: %s", len(res.Failed), aws.ToString(res.Failed[0].Message))
		}
	}
	c.observe(d)
}

// failedIDs reads the function's SQSEventResponse. As Lambda does, an
// unparsable response or an identifier that is empty or not in the batch
// fails the whole batch.
func failedIDs(out []byte, records []events.SQSMessage) (map[string]bool, error) {
	failed := map[string]bool{}
	if len(strings.TrimSpace(string(out))) == 0 || string(out) == "null" {
		return failed, nil
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("function response is not an SQSEventResponse: %w: %s", err, out)
	}
	inBatch := map[string]bool{}
	for _, r := range records {
		inBatch[r.MessageId] = true
	}
	for _, f := range resp.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			return nil, fmt.Errorf("batch item failure %q is not a message of the batch", f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, nil
}

// Event builds the events.SQSEvent Lambda delivers for these messages.
func (c *Consumer) Event(msgs []types.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		msgAttrs := map[string]events.SQSMessageAttribute{}
		for k, v := range m.MessageAttributes {
			msgAttrs[k] = events.SQSMessageAttribute{
				StringValue:      v.StringValue,
				BinaryValue:      v.BinaryValue,
				StringListValues: v.StringListValues,
				BinaryListValues: v.BinaryListValues,
				DataType:         aws.ToString(v.DataType),
			}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             attrs,
			MessageAttributes:      msgAttrs,
			EventSourceARN:         c.cfg.QueueARN,
			EventSource:            "aws:sqs",
			AWSRegion:              c.cfg.Region,
		})
	}
	return ev
}

func (c *Consumer) observe(d Delivery) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(d)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
