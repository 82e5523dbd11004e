package migrate

import (
	"encoding/json"
	"testing"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg/queuemsgtest"
)

// Backfill sends what the edge sends for a key S3 lacks, byte for byte (a
// backfill and a viewer's miss are then one message to the transfer
// function), and a refresh names the S3 object it replaces: both are the
// contract's fixtures.
func TestBackfillMessagesAreTheContractFixtures(t *testing.T) {
	missing := pending{entry: Entry{Kind: KindMissing, Key: "img/a b+c.png", Source: &Object{
		Key: "img/a b+c.png", Size: 1234, Generation: "1700000000123456", ETag: `"9b2cf535f27731c974343645a3985328"`,
	}}}
	stale := pending{refresh: true, entry: Entry{Kind: KindStale, Key: "img/a b+c.png",
		Source: &Object{Key: "img/a b+c.png", Size: 2048, Generation: "1700000000999999", ETag: `"0f343b0931126a20f133d67c2b018a3b"`},
		Dest:   &Object{Key: "img/a b+c.png", Size: 1234, ETag: `"9b2cf535f27731c974343645a3985328"`},
	}}
	for fixture, p := range map[string]pending{"edge-miss.json": missing, "backfill-refresh.json": stale} {
		body, err := json.Marshal(p.message())
		if err != nil {
			t.Fatal(err)
		}
		if want := queuemsgtest.Fixture(t, fixture); string(body) != want {
			t.Errorf("backfill sends\n%s\nwant %s\n%s", body, fixture, want)
		}
	}
}
