package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // an upload cut on the way never completes upstream
		}
		if r.Method == http.MethodPut && len(body) != 1000 {
			t.Errorf("upstream got %d of 1000 bytes as a whole request", len(body))
		}
		_, _ = w.Write([]byte(strings.Repeat("x", 100_000)))
	}))
	defer upstream.Close()
	p := NewFaults(upstream.URL, nil)
	defer p.Close()
	front := httptest.NewServer(p)
	defer front.Close()
	do := func(method string, f Fault) (*http.Response, []byte, error) {
		t.Helper()
		p.SetPlan(func(*http.Request) Fault { return f })
		req, _ := http.NewRequest(method, front.URL+"/bucket/key", strings.NewReader(strings.Repeat("y", 1000)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	resp, body, err := do(http.MethodPut, Fault{})
	if err != nil || resp.StatusCode != 200 || len(body) != 100_000 {
		t.Fatalf("relay: %v, %d bytes", err, len(body))
	}
	resp, body, err = do(http.MethodPut, Fault{Status: 503, Code: "SlowDown"})
	if err != nil || resp.StatusCode != 503 || !strings.Contains(string(body), "<Code>SlowDown</Code>") {
		t.Errorf("S3 error: %v, %d %q", err, resp.StatusCode, body)
	}
	if _, _, err = do(http.MethodPut, Fault{CutRequestAt: 10}); err == nil {
		t.Error("an upload cut on the way answered")
	}
	if _, _, err = do(http.MethodPut, Fault{CutResponse: true}); err == nil {
		t.Error("a cut response answered")
	}
	if _, body, err = do(http.MethodGet, Fault{CutResponseAt: 500}); err == nil {
		t.Errorf("a body cut at 500 bytes read whole (%d bytes)", len(body))
	}
	start := time.Now()
	if _, body, err = do(http.MethodGet, Fault{BytesPerSecond: 200_000}); err != nil || len(body) != 100_000 {
		t.Errorf("paced: %v, %d bytes", err, len(body))
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("100 kB at 200 kB/s took %s, want about 0.5 s", d)
	}
	got := p.Totals()
	if got["PUT"].Requests != 4 || got["GET"].Requests != 2 {
		t.Errorf("totals %+v, want 4 PUT and 2 GET", got)
	}
}

func TestS3Kind(t *testing.T) {
	for target, want := range map[string]string{
		"PUT /b/k?partNumber=1&uploadId=u": "UploadPart",
		"PUT /b/k":                         "PutObject",
		"POST /b/k?uploads":                "CreateMultipartUpload",
		"POST /b/k?uploadId=u":             "CompleteMultipartUpload",
		"DELETE /b/k?uploadId=u":           "AbortMultipartUpload",
		"GET /b/k?uploadId=u":              "ListParts",
		"HEAD /b/k":                        "HeadObject",
		"GET /b/k":                         "GetObject",
		"GET /b?uploads":                   "GET bucket",
	} {
		method, path, _ := strings.Cut(target, " ")
		if got := S3Kind(httptest.NewRequest(method, path, nil)); got != want {
			t.Errorf("%s: %s, want %s", target, got, want)
		}
	}
}

func TestS3OperationTellsTheBucketListingsApart(t *testing.T) {
	for target, want := range map[string]string{
		"/b?uploads&prefix=k":     "ListMultipartUploads",
		"/b?list-type=2&prefix=k": "ListObjects",
		"/b/k?uploadId=1":         "ListParts",
		"/b/k":                    "GetObject",
	} {
		if got := S3Operation(httptest.NewRequest(http.MethodGet, target, nil)); got != want {
			t.Errorf("GET %s: %q, want %q", target, got, want)
		}
	}
	var c Counts
	c.Add("PutObject")
	c.Add("PutObject")
	if got := c.Take(); got["PutObject"] != 2 || len(got) != 1 {
		t.Errorf("counts %v, want PutObject 2", got)
	}
	if got := c.Take(); len(got) != 0 {
		t.Errorf("after Take: %v, want none", got)
	}
}
