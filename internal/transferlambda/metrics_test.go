package transferlambda

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// GCS answers 403 for a missing object of a bucket without public listing:
// the object line counts that as SourceForbidden (its own metric and
// alarm), not as Failed, for an object of one part and one of several.
func TestSourceForbiddenIsCountedApartFromFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.putSource("acl/small.txt", []byte("x"))
	w.putSource("acl/big.bin", bytes.Repeat([]byte{1}, 3*5<<20))
	w.proxy.OnRequest(func(_ int, r *http.Request) standin.Fault {
		// The small object's GET; the big one's parts (its first GET told the size).
		if strings.HasSuffix(r.URL.Path, "small.txt") || r.Header.Get("Range") != "" {
			return standin.Fault{Status: http.StatusForbidden}
		}
		return standin.Fault{}
	})
	var logs safeBuffer
	h, err := NewHandler(context.Background(), w.cfg, Clients{S3: s3Server.Client(), SQS: w.sqs}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("1", messageFor("acl/small.txt")), record("2", messageFor("acl/big.bin")),
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v error %v: a source 403 is acknowledged", failedIDs(resp), err)
	}
	type objectLine struct {
		Msg, Key, Outcome       string
		SourceForbidden, Failed int
	}
	lines := map[string]objectLine{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line objectLine
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatal(err)
		}
		if line.Msg == "object" {
			lines[line.Key] = line
		}
	}
	for _, key := range []string{"acl/small.txt", "acl/big.bin"} {
		if line := lines[key]; line.Outcome != string(transfer.OutcomeSourceForbidden) || line.SourceForbidden != 1 || line.Failed != 0 {
			t.Errorf("%s: object line %+v, want outcome source-forbidden counted as SourceForbidden, not Failed", key, line)
		}
		if w.hasDestination(key) {
			t.Errorf("%s written", key)
		}
	}
}
