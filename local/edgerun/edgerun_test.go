package edgerun

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/edgebundle"
	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// The tests run the deployed files from lambda/ under node, each kind
// through runner.mjs the way the harness does; lambda/edge/node_modules
// comes from `make tools`.

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := standin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFunctionRunsTheViewerRequestFunction(t *testing.T) {
	ctx := testContext(t)
	f, err := StartFunction(ctx, FunctionOptions{File: filepath.Join(moduleRoot(t), "lambda", "viewer-request", "index.js")})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := f.ViewerRequest(ctx, FunctionEvent{Version: "1.0", Request: FunctionRequest{Method: "GET", URI: "/c++/a+b.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.URI != "/c%2B%2B/a%2Bb.txt" || got.Method != "GET" {
		t.Errorf("request let through: %+v, want GET /c%%2B%%2B/a%%2Bb.txt", got)
	}
}

func TestFunctionThatAnswersTheViewerIsAnError(t *testing.T) {
	ctx := testContext(t)
	file := filepath.Join(t.TempDir(), "deny.js")
	if err := os.WriteFile(file, []byte(`async function handler(event) { return { statusCode: 403, statusDescription: "Forbidden" }; }`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := StartFunction(ctx, FunctionOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = f.ViewerRequest(ctx, FunctionEvent{Version: "1.0", Request: FunctionRequest{Method: "GET", URI: "/a"}})
	if err == nil || !strings.Contains(err.Error(), "not a request") {
		t.Errorf("a function's own response: %v, want a not-a-request error", err)
	}
}

func TestOriginRequestLeavesTheS3RequestAlone(t *testing.T) {
	root := moduleRoot(t)
	bundle := t.TempDir()
	if err := edgebundle.WriteOriginRequest(bundle, filepath.Join(root, "lambda", "edge"), edgebundle.SigningSettings{
		SourceDomainName: "source.example.com", SourceRegion: "auto", SecretID: "source-key", SecretRegion: "us-east-1",
	}, "edgerun_test"); err != nil {
		t.Fatal(err)
	}
	// Without a KeyTTL the exported handler runs; with one, createHandler.
	for _, ttl := range []time.Duration{0, time.Minute} {
		ctx := testContext(t)
		o, err := StartOriginRequest(ctx, OriginRequestOptions{
			Bundle: bundle, Handler: "origin-request.handler", EdgeDir: filepath.Join(root, "lambda", "edge"), KeyTTL: ttl,
		})
		if err != nil {
			t.Fatalf("key TTL %s: %v", ttl, err)
		}
		sent := Request{Method: "GET", URI: "/a.txt", Headers: Headers{"host": {{Key: "Host", Value: "bucket.s3.us-east-1.amazonaws.com"}}},
			Origin: Origin{S3: &S3Origin{DomainName: "bucket.s3.us-east-1.amazonaws.com", CustomHeaders: Headers{}}}}
		got, err := o.OriginRequest(ctx, RequestEvent{Records: []RequestRecord{{CF: RequestCF{Request: sent}}}}, Context{FunctionName: "signer"})
		o.Close()
		if err != nil {
			t.Fatalf("key TTL %s: %v", ttl, err)
		}
		if a, b := asJSON(t, got), asJSON(t, sent); a != b {
			t.Errorf("key TTL %s: the S3 request came back changed:\n  sent     %s\n  returned %s", ttl, b, a)
		}
	}
	if _, err := StartOriginRequest(testContext(t), OriginRequestOptions{Bundle: bundle, Handler: "origin-request"}); err == nil {
		t.Error("a handler setting without an export started")
	}
}

func TestOriginResponseQueuesASourceResponse(t *testing.T) {
	var mu sync.Mutex
	var queueURLs []string
	sqs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ QueueUrl string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		queueURLs = append(queueURLs, in.QueueUrl)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"edgerun test"}`))
	}))
	defer sqs.Close()
	env := []string{"AWS_ENDPOINT_URL_SQS=" + sqs.URL, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION=us-east-1"}
	settings := Settings{QueueName: "transfer.fifo", QueueRegion: "us-east-1", SourceDomainName: "storage.example.com"}
	const injected = "https://sqs.us-east-1.amazonaws.com/000000000000/injected.fifo"
	// Without a QueueURL the exported handler derives the URL from the
	// function ARN; with one, createHandler is given it.
	for queueURL, want := range map[string]string{"": "https://sqs.us-east-1.amazonaws.com/123456789012/transfer.fifo", injected: injected} {
		ctx := testContext(t)
		r, err := Start(ctx, Options{EdgeDir: filepath.Join(moduleRoot(t), "lambda", "edge"), Settings: settings, QueueURL: queueURL, Env: env})
		if err != nil {
			t.Fatalf("queue URL %q: %v", queueURL, err)
		}
		response := Response{Status: "200", Headers: Headers{"content-length": {{Key: "Content-Length", Value: "3"}}}}
		got, err := r.Invoke(ctx, Event{Records: []Record{{CF: CF{
			Request: Request{Method: "GET", URI: "/a.txt", Headers: Headers{},
				Origin: Origin{Custom: &CustomOrigin{DomainName: settings.SourceDomainName, CustomHeaders: Headers{}}}},
			Response: response,
		}}}}, Context{FunctionName: "edge", InvokedFunctionARN: FunctionARN("edge", 1)})
		r.Close()
		if err != nil {
			t.Fatalf("queue URL %q: %v", queueURL, err)
		}
		if asJSON(t, got) != asJSON(t, response) {
			t.Errorf("queue URL %q: the handler changed the response to %+v", queueURL, got)
		}
		mu.Lock()
		sent := queueURLs
		queueURLs = nil
		mu.Unlock()
		if len(sent) == 0 || sent[0] != want {
			t.Errorf("queue URL %q: SendMessage to %q, want %s", queueURL, sent, want)
		}
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
