package queuemsg

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseAcceptsTheContract(t *testing.T) {
	body := `{"v":1,"key":"img/a b+c.png","size":1234,"generation":"1700000000123456","etag":"\"9b2c\"",` +
		`"resume":{"uploadId":"u-1","generation":"1700000000123456","partSize":16777216},"future":"ignored"}`
	m, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if m.Key != "img/a b+c.png" || *m.Size != 1234 || m.Generation != "1700000000123456" || m.ETag != `"9b2c"` ||
		m.Resume == nil || m.Resume.UploadID != "u-1" || m.Resume.PartSize != 16<<20 {
		t.Fatalf("parsed %+v", m)
	}
	refresh, err := Parse(`{"v":1,"key":"k","refresh":{"etag":"\"e1\""}}`)
	if err != nil || refresh.Refresh == nil || refresh.Refresh.ETag != `"e1"` {
		t.Fatalf("refresh message: %+v %v", refresh, err)
	}
	// A continuation the handler writes must parse back to the same message.
	out, _ := json.Marshal(m)
	again, err := Parse(string(out))
	if err != nil || again.Key != m.Key || *again.Resume != *m.Resume {
		t.Fatalf("round trip: %+v %v", again, err)
	}
}

func TestParseRejectsWhatCanNeverSucceed(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{"v":1,"key":"a"} trailing`, `{"v":"1","key":"a"}`, `{"key":"a"}`,
		`{"v":1,"key":"a","size":-1}`, `{"v":1,"key":"a","resume":{"uploadId":"u","partSize":1024}}`,
		`{"v":1,"key":"a","refresh":{}}`, `{"v":1,"key":"a","refresh":{"etag":""}}`,
		`{"v":1,"key":"x/../b"}`, `{"v":1,"key":"../other-bucket/obj"}`, `{"v":1,"key":"./a"}`, `{"v":1,"key":"a/."}`, `{"v":1,"key":".."}`,
	} {
		if _, err := Parse(body); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: error %v, want ErrMalformed", body, err)
		}
	}
	// sha256("abc"), the FIPS 180-2 test vector: group ids must match the edge handler's.
	if got := KeyHash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("KeyHash(abc) = %s", got)
	}
}
