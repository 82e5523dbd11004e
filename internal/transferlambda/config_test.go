package transferlambda

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnvDefaultsAndErrors(t *testing.T) {
	cfg, err := ConfigFromEnv(env(map[string]string{
		"DESTINATION_BUCKET": "dst", "SOURCE_BUCKET": "src", "QUEUE_URL": "q", "DEAD_LETTER_QUEUE_URL": "dlq",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SourceEndpoint != "https://storage.googleapis.com" || cfg.PartSizeMiB != 16 || cfg.PartConcurrency != 8 || cfg.BatchConcurrency != 4 {
		t.Fatalf("defaults: %+v", cfg)
	}
	_, err = ConfigFromEnv(env(map[string]string{"SOURCE_BUCKET": "src", "PART_SIZE_MIB": "4", "PART_CONCURRENCY": "x"}))
	for _, want := range []string{"DESTINATION_BUCKET is required", "QUEUE_URL is required", "DEAD_LETTER_QUEUE_URL is required", "PART_SIZE_MIB", "PART_CONCURRENCY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestConfigFromEnvReadsKeyRulesAndBoundsThePartSize(t *testing.T) {
	base := map[string]string{"DESTINATION_BUCKET": "dst", "SOURCE_BUCKET": "src", "QUEUE_URL": "q", "DEAD_LETTER_QUEUE_URL": "dlq",
		EnvIncludePrefixes: `["img/","video/"]`, EnvExcludeSuffixes: `[".tmp"]`, "PART_SIZE_MIB": "560"}
	cfg, err := ConfigFromEnv(env(base))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Rules.Allows("img/a.png") || cfg.Rules.Allows("img/a.tmp") || cfg.Rules.Allows("css/a.css") {
		t.Fatalf("rules %+v", cfg.Rules)
	}
	if (KeyRules{}).Allows("anything") != true {
		t.Fatal("no rules must allow every key")
	}
	// 561 MiB would not stream within an invocation at the minimum rate the part sizes are chosen for.
	for name, v := range map[string]string{EnvIncludePrefixes: `img/`, EnvExcludeSuffixes: `[""]`, "PART_SIZE_MIB": "561"} {
		bad := maps.Clone(base)
		bad[name] = v
		if _, err := ConfigFromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v, want one naming it", name, v, err)
		}
	}
}

type fakeSecrets struct {
	value string
	err   error
	calls int
}

var _ SecretsAPI = (*fakeSecrets)(nil)

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, SecretString: aws.String(f.value)}, nil
}

func TestSourceCredentialsFromSecret(t *testing.T) {
	ctx := context.Background()
	creds, err := SourceCredentials(ctx, &fakeSecrets{value: `{"accessKeyId":"GOOG1EXAMPLE","secretAccessKey":"s3cr3t"}`}, "arn:secret")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := creds.Retrieve(ctx)
	if v.AccessKeyID != "GOOG1EXAMPLE" || v.SecretAccessKey != "s3cr3t" {
		t.Fatalf("credentials %+v", v)
	}
	for _, bad := range []*fakeSecrets{{value: `not json`}, {value: `{"accessKeyId":"a"}`}, {err: errors.New("denied")}} {
		if _, err := SourceCredentials(ctx, bad, "arn:secret"); err == nil {
			t.Errorf("secret %q / %v accepted", bad.value, bad.err)
		}
	}
}

// The function's own wiring: SDK clients from the default configuration,
// pointed at the stand-ins by AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SQS
// exactly as the end-to-end harness and local demo do.
func TestWiringFromEnvironmentCopiesThroughStandIns(t *testing.T) {
	w := newWorld(t)
	w.putSource("wired/é+1.txt", []byte("wired"))
	vars := map[string]string{
		"AWS_ENDPOINT_URL_S3": s3Server.Endpoint, "AWS_ENDPOINT_URL_SQS": sqsServer.Endpoint,
		"AWS_ACCESS_KEY_ID": s3Server.AccessKeyID, "AWS_SECRET_ACCESS_KEY": s3Server.SecretAccessKey,
		"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		"DESTINATION_BUCKET": w.dst, "SOURCE_BUCKET": w.src, "SOURCE_ENDPOINT": gcsServer.URL,
		"QUEUE_URL": w.queueURL, "DEAD_LETTER_QUEUE_URL": w.dlqURL, "PART_SIZE_MIB": "5",
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	cfg, err := ConfigFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(ctx, cfg, Clients{S3: s3.NewFromConfig(awsCfg), SQS: sqs.NewFromConfig(awsCfg)}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
		record("good", messageFor("wired/é+1.txt")),
		record("bad", `{"v":7,"key":"x"}`),
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %v error %v", failedIDs(resp), err)
	}
	if got := w.destination("wired/é+1.txt"); got != "wired" {
		t.Fatalf("destination %q", got)
	}
	if msgs := w.receive(w.dlqURL); len(msgs) != 1 {
		t.Fatalf("%d dead letters through the env-configured SQS client, want 1", len(msgs))
	}
}

// The SDK's default keeps 10 idle connections per host; a batch of 16
// small copies would then open and close connections all the time.
func TestHTTPClientsKeepAConnectionPerConcurrentRequest(t *testing.T) {
	cfg, err := ConfigFromEnv(env(map[string]string{
		"DESTINATION_BUCKET": "dst", "SOURCE_BUCKET": "src", "QUEUE_URL": "q", "DEAD_LETTER_QUEUE_URL": "dlq",
		"PART_CONCURRENCY": "16", "BATCH_CONCURRENCY": "16",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := HTTPClient(cfg).GetTransport().MaxIdleConnsPerHost; got != 32 {
		t.Errorf("AWS clients keep %d idle connections per host, want 32 (16 streams + 16 copies' own requests)", got)
	}
}
