package sourceendpoint

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		raw, domain, path, base string
		virtual                 bool
	}{
		{Default, "storage.googleapis.com", "/b", "https://storage.googleapis.com", false},
		{"https://s3.eu-central-1.wasabisys.com/", "s3.eu-central-1.wasabisys.com", "/b", "https://s3.eu-central-1.wasabisys.com", false},
		{"https://{bucket}.s3.us-west-004.backblazeb2.com", "b.s3.us-west-004.backblazeb2.com", "", "https://b.s3.us-west-004.backblazeb2.com", true},
		{"https://minio.example.com:9443", "minio.example.com", "/b", "https://minio.example.com:9443", false},
	} {
		e, err := Parse(tc.raw)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.raw, err)
		}
		if got := e.DomainName("b"); got != tc.domain {
			t.Errorf("%q: domain %q, want %q", tc.raw, got, tc.domain)
		}
		if got := e.OriginPath("b"); got != tc.path {
			t.Errorf("%q: origin path %q, want %q", tc.raw, got, tc.path)
		}
		if got := e.BaseURL("b"); got != tc.base {
			t.Errorf("%q: base %q, want %q", tc.raw, got, tc.base)
		}
		if e.VirtualHosted() != tc.virtual {
			t.Errorf("%q: virtual-hosted %v", tc.raw, e.VirtualHosted())
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for raw, want := range map[string]string{
		"http://storage.googleapis.com":       "https",
		"https://192.0.2.1":                   "IP address",
		"https://localhost":                   "fully qualified",
		"https://storage.googleapis.com/b":    "no path",
		"https://x.example.com?a=1":           "no path",
		"https://s3.{bucket}.example.com":     "first label",
		"https://x.example.com:80":            "port",
		"storage.googleapis.com":              "https://",
		"https://UNDER_score.example.com":     "host name",
		"https://{bucket}.{bucket}.example.c": "first label",
	} {
		_, err := Parse(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", raw, err, want)
		}
	}
	if _, err := ParseLocal("http://127.0.0.1:9000"); err != nil {
		t.Errorf("ParseLocal refuses a stand-in: %v", err)
	}
}
