package transferlambda

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// Copier copies one key; *transfer.Engine is the real one. Refresh
// replaces S3's object when it is still the one with etag (a message with
// "refresh", sent only by `backtoorigin backfill --refresh`).
type Copier interface {
	Copy(ctx context.Context, key string, resume *transfer.Resume) (transfer.Result, error)
	Refresh(ctx context.Context, key, etag string, resume *transfer.Resume) (transfer.Result, error)
}

// Queue sends messages; *sqs.Client is the real one.
type Queue interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var (
	_ Copier = (*transfer.Engine)(nil)
	_ Queue  = (*sqs.Client)(nil)
)

// Handler processes SQS batches of transfer messages.
type Handler struct {
	Copier             Copier
	Queue              Queue
	QueueURL           string // continuations go here
	DeadLetterQueueURL string // malformed messages go here
	BatchConcurrency   int    // message groups copied at once (default 1)
	Rules              KeyRules
	Logger             *slog.Logger
}

// DeadLetter is the body of a message moved to the dead-letter queue: the
// reason beside the original body, so a person can see both at once.
type DeadLetter struct {
	Reason    string `json:"reason"`
	MessageID string `json:"messageId"`
	Body      string `json:"body"`
}

// ReasonAttribute is the dead-letter message attribute holding the reason.
const ReasonAttribute = "reason"

// maxDeadLetterBody keeps the wrapper under SQS's 256 KiB message limit.
const maxDeadLetterBody = 200 << 10

// Handle copies the batch's objects and reports the records that must be
// retried. Records of one message group (one key) run in order, and once
// one fails the rest of its group is reported failed unprocessed, keeping
// FIFO order; different groups run concurrently.
func (h *Handler) Handle(ctx context.Context, event events.SQSEvent) (events.SQSEventResponse, error) {
	var groups [][]events.SQSMessage
	index := map[string]int{}
	for _, r := range event.Records {
		g := r.Attributes["MessageGroupId"]
		i, ok := index[g]
		if !ok || g == "" {
			i = len(groups)
			index[g] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}

	var (
		mu       sync.Mutex
		failures []events.SQSBatchItemFailure
		running  errgroup.Group
	)
	running.SetLimit(max(h.BatchConcurrency, 1))
	for _, group := range groups {
		running.Go(func() error {
			for i, r := range group {
				if err := h.handleRecord(ctx, r); err != nil {
					mu.Lock()
					for _, rest := range group[i:] {
						failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: rest.MessageId})
					}
					mu.Unlock()
					return nil // a failed group is reported, not an error of the batch
				}
			}
			return nil
		})
	}
	_ = running.Wait() // every func returns nil
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// handleRecord returns an error only when the record must be redelivered.
func (h *Handler) handleRecord(ctx context.Context, r events.SQSMessage) error {
	msg, err := queuemsg.Parse(r.Body)
	if err != nil {
		start := time.Now()
		sendErr := h.deadLetter(ctx, r, groupMalformed, err.Error())
		h.logSettled(ctx, "", OutcomeMalformed, time.Since(start), err)
		if sendErr != nil {
			// Never drop it: let SQS redeliver (and redrive it in the end).
			h.logger().ErrorContext(ctx, "could not move malformed message to the dead-letter queue", "messageId", r.MessageId, "error", sendErr)
			return sendErr
		}
		return nil
	}

	if !h.Rules.Allows(msg.Key) {
		// A hand-made message, one sent before a rule change, a backfill:
		// the edge would not have queued it, so nothing is copied.
		h.logSettled(ctx, msg.Key, OutcomeExcluded, 0, nil)
		return nil
	}

	var res transfer.Result
	if msg.Refresh != nil {
		// Only refresh messages skip the "S3 already has it" check.
		res, err = h.Copier.Refresh(ctx, msg.Key, msg.Refresh.ETag, msg.Resume)
	} else {
		res, err = h.Copier.Copy(ctx, msg.Key, msg.Resume)
	}
	if err != nil {
		return err // logged as the copy returned (copyLogger)
	}
	if res.Outcome == transfer.OutcomeNoProgress {
		// Another continuation would read the same bytes again; SQS's receive
		// count never grows for continuations, so only this ends it.
		if err := h.deadLetter(ctx, r, groupNoProgress, res.Reason); err != nil {
			h.logger().ErrorContext(ctx, "could not move a copy without progress to the dead-letter queue", "key", msg.Key, "error", err)
			return err
		}
		return nil
	}
	if msg.Generation != "" && res.Generation != "" && msg.Generation != res.Generation {
		// The edge saw one version, the copy found a newer one: S3 now holds
		// what GCS holds, but viewers were served the older bytes until then.
		h.logger().InfoContext(ctx, "source changed since the viewer's request; copied the newer generation",
			"key", msg.Key, "servedGeneration", msg.Generation, "copiedGeneration", res.Generation)
	}
	if res.Outcome != transfer.OutcomeSuspended {
		return nil
	}
	next := msg
	next.Resume = res.Resume
	if err := h.continuation(ctx, next); err != nil {
		h.logger().ErrorContext(ctx, "could not enqueue continuation; the message will be redelivered", "key", msg.Key, "error", err)
		return err
	}
	return nil
}

// continuation re-enqueues a suspended copy. Same group as the key, so it
// queues behind the current message; a fresh deduplication id, so FIFO's
// five-minute deduplication does not swallow it.
func (h *Handler) continuation(ctx context.Context, m queuemsg.Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode continuation: %w", err)
	}
	group := queuemsg.KeyHash(m.Key)
	// Sending must not fail because the invocation's time is nearly up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err = h.Queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               &h.QueueURL,
		MessageBody:            aws.String(string(body)),
		MessageGroupId:         aws.String(group),
		MessageDeduplicationId: aws.String(group + "-" + rand.Text()),
	})
	if err != nil {
		return fmt.Errorf("send continuation for %q: %w", m.Key, err)
	}
	return nil
}

// Dead-letter message groups: one per kind of message that can never
// succeed as it stands.
const (
	groupMalformed  = "malformed"
	groupNoProgress = "no-progress"
)

func (h *Handler) deadLetter(ctx context.Context, r events.SQSMessage, group, reason string) error {
	body := r.Body
	if len(body) > maxDeadLetterBody {
		body = body[:maxDeadLetterBody]
	}
	wrapped, err := json.Marshal(DeadLetter{Reason: reason, MessageID: r.MessageId, Body: body})
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	// Deduplicate on the message id: a redelivery of the same bad message
	// is not filed twice. One group per kind: a malformed message has no
	// usable key to group by.
	dedup := queuemsg.KeyHash(group + "\x00" + r.MessageId)
	_, err = h.Queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:               &h.DeadLetterQueueURL,
		MessageBody:            aws.String(string(wrapped)),
		MessageGroupId:         aws.String(group),
		MessageDeduplicationId: aws.String(dedup),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			ReasonAttribute: {DataType: aws.String("String"), StringValue: aws.String(truncate(reason, 1024))},
		},
	})
	if err != nil {
		return fmt.Errorf("send to dead-letter queue: %w", err)
	}
	return nil
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
