package transfer

import (
	"net/http"
	"testing"
)

func TestHeadersForDropsTheUploadFramingFromContentEncoding(t *testing.T) {
	for in, want := range map[string]string{
		"aws-chunked":       "",
		"aws-chunked,gzip":  "gzip",
		"gzip, AWS-Chunked": "gzip",
		"gzip":              "gzip",
		"br,gzip":           "br,gzip",
	} {
		h := headersFor(SourceObject{Header: http.Header{"Content-Encoding": {in}}})
		got := ""
		if h.ContentEncoding != nil {
			got = *h.ContentEncoding
		}
		if got != want {
			t.Errorf("Content-Encoding %q copied as %q, want %q", in, got, want)
		}
	}
}
