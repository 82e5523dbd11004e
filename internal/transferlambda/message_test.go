package transferlambda

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg/queuemsgtest"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// The function reads the contract's fixtures as the edge and backfill send
// them, and its continuation of the edge's message is the continuation
// fixture: that message with the copy's resume added, nothing else changed.
func TestTheHandlerReadsAndWritesTheContractFixtures(t *testing.T) {
	var sent sentMessages
	h := &Handler{
		Copier: suspendingCopier{transfer.Resume{UploadID: "2~gXHmXq9RJSmzxfXkKdD1wbYRHzkKm1Q", Generation: "1700000000123456", PartSize: 16 << 20, NoProgress: 1}},
		Queue:  &sent, QueueURL: "transfer-queue", Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("1", queuemsgtest.Fixture(t, "edge-miss.json"))}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v error %v", failedIDs(resp), err)
	}
	var bodies []string
	for _, in := range sent {
		bodies = append(bodies, aws.ToString(in.MessageBody))
	}
	if want := queuemsgtest.Fixture(t, "continuation.json"); !slices.Equal(bodies, []string{want}) {
		t.Fatalf("continuations %q, want one:\n%s", bodies, want)
	}

	copier := &recordingCopier{}
	h = &Handler{Copier: copier, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	for _, name := range []string{"edge-miss-unicode.json", "backfill-refresh.json"} {
		resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(name, queuemsgtest.Fixture(t, name))}})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: failures %v error %v", name, failedIDs(resp), err)
		}
	}
	if !slices.Equal(copier.calls, []string{"日本/café 😀.txt", "img/a b+c.png"}) ||
		!slices.Equal(copier.refreshed, []string{`img/a b+c.png if-match "9b2cf535f27731c974343645a3985328"`}) {
		t.Fatalf("copies %q, refreshes %q", copier.calls, copier.refreshed)
	}
}

// suspendingCopier ends every copy suspended, with one resume.
type suspendingCopier struct{ resume transfer.Resume }

var _ Copier = suspendingCopier{}

func (c suspendingCopier) Copy(_ context.Context, key string, _ *transfer.Resume) (transfer.Result, error) {
	resume := c.resume
	return transfer.Result{Key: key, Outcome: transfer.OutcomeSuspended, Resume: &resume}, nil
}

func (c suspendingCopier) Refresh(ctx context.Context, key, _ string, resume *transfer.Resume) (transfer.Result, error) {
	return c.Copy(ctx, key, resume)
}

// sentMessages records what the handler sends.
type sentMessages []*sqs.SendMessageInput

var _ Queue = (*sentMessages)(nil)

func (s *sentMessages) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	*s = append(*s, in)
	return &sqs.SendMessageOutput{MessageId: aws.String("sent-" + aws.ToString(in.MessageGroupId))}, nil
}
