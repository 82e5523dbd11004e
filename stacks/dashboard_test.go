package stacks_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// GIVEN the default app WHEN synthesized THEN one dashboard graphs the
// transfer function's metrics, both queues, and the edge's origin fetches
// by origin from the region where they are recorded.
func TestDashboardGraphsTheMigration(t *testing.T) {
	s := defaults(t)
	props := only(t, s.mainJSON, "AWS::CloudWatch::Dashboard")
	if _, named := props["DashboardName"]; named {
		t.Fatal("the dashboard has a hard-coded name")
	}
	raw, err := json.Marshal(props["DashboardBody"])
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	for _, want := range []string{
		"ObjectsCopied", "BytesCopied", "CopySeconds", "Skipped", "Failed", "SourceForbidden", "NoProgress", "Excluded",
		"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "OriginFetches",
		`\"Origin\",\"S3\"`, `\"Origin\",\"GCS\"`, `\"region\":\"eu-west-1\"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard body lacks %s:\n%s", want, body)
		}
	}
	if n := strings.Count(body, "OriginFetches"); n != 2 {
		t.Errorf("origin fetches graphed %d times, want S3 and GCS once each (one Origin Shield region)", n)
	}
}
