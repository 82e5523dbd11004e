package queuemsg

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg/queuemsgtest"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// The bodies in testdata/ pin the format for every side: the edge
// function's tests send them byte for byte (lambda/edge/test/message.test.mjs),
// backfill writes them (internal/migrate), the Lambda's continuation of
// edge-miss.json is continuation.json (internal/transferlambda). Here each
// parses to the message it stands for and encodes back to the same bytes.
func TestFixturesAreTheContract(t *testing.T) {
	size, newer := int64(1234), int64(2048)
	const generation, etag = "1700000000123456", `"9b2cf535f27731c974343645a3985328"`
	for name, want := range map[string]Message{
		// A viewer's miss: a key with a space and a literal +.
		"edge-miss.json": {V: 1, Key: "img/a b+c.png", Size: &size, Generation: generation, ETag: etag},
		// UTF-8 goes as it is, not as \u escapes, from Go and node alike.
		"edge-miss-unicode.json": {V: 1, Key: "日本/café 😀.txt", Size: &size, Generation: generation, ETag: etag},
		// The Lambda's continuation of edge-miss.json after a suspended copy.
		"continuation.json": {V: 1, Key: "img/a b+c.png", Size: &size, Generation: generation, ETag: etag,
			Resume: &transfer.Resume{UploadID: "2~gXHmXq9RJSmzxfXkKdD1wbYRHzkKm1Q", Generation: generation, PartSize: 16 << 20, NoProgress: 1}},
		// `backtoorigin backfill --refresh`: the source's newer version
		// replaces S3's copy of the older one, named by its ETag.
		"backfill-refresh.json": {V: 1, Key: "img/a b+c.png", Size: &newer, Generation: "1700000000999999",
			ETag: `"0f343b0931126a20f133d67c2b018a3b"`, Refresh: &Refresh{ETag: etag}},
	} {
		body := queuemsgtest.Fixture(t, name)
		got, err := Parse(body)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s parses to %+v (%v), want %+v", name, got, err, want)
		}
		if out, err := json.Marshal(want); err != nil || string(out) != body {
			t.Errorf("%s: the message encodes as\n%s\nwant the fixture\n%s", name, out, body)
		}
	}
}

func ExampleParse() {
	m, err := Parse(`{"v":1,"key":"img/a b+c.png","size":1234,"generation":"1700000000123456"}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Key, *m.Size, m.Generation, KeyHash(m.Key)[:16])
	_, err = Parse(`{"v":2,"key":"img/a b+c.png"}`)
	fmt.Println(err)
	// Output:
	// img/a b+c.png 1234 1700000000123456 9ae8004fb5e2e1df
	// malformed transfer message: unsupported version 2 (want 1)
}
