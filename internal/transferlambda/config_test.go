package transferlambda

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"reflect"
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
		EnvDestinationBucket: "dst", EnvSourceBucket: "src", EnvQueueURL: "q", EnvDeadLetterQueueURL: "dlq",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SourceEndpoint != "https://storage.googleapis.com" || cfg.PartSizeMiB != 16 || cfg.PartConcurrency != 8 || cfg.BatchConcurrency != 4 {
		t.Fatalf("defaults: %+v", cfg)
	}
	_, err = ConfigFromEnv(env(map[string]string{EnvSourceBucket: "src", EnvPartSizeMiB: "4", EnvPartConcurrency: "x"}))
	for _, want := range []string{EnvDestinationBucket + " is required", EnvQueueURL + " is required", EnvDeadLetterQueueURL + " is required", EnvPartSizeMiB, EnvPartConcurrency} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestConfigFromEnvReadsKeyRulesAndBoundsThePartSize(t *testing.T) {
	base := map[string]string{EnvDestinationBucket: "dst", EnvSourceBucket: "src", EnvQueueURL: "q", EnvDeadLetterQueueURL: "dlq",
		EnvIncludePrefixes: `["img/","video/"]`, EnvExcludeSuffixes: `[".tmp"]`, EnvPartSizeMiB: "560"}
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
	for name, v := range map[string]string{EnvIncludePrefixes: `img/`, EnvExcludeSuffixes: `[""]`, EnvPartSizeMiB: "561"} {
		bad := maps.Clone(base)
		bad[name] = v
		if _, err := ConfigFromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v, want one naming it", name, v, err)
		}
	}
}

// fullConfig sets every field, each to something other than its default.
func fullConfig() Config {
	return Config{
		DestinationBucket:   "dst",
		SourceBucket:        "src",
		SourceEndpoint:      "https://{bucket}.s3.example.com:8443",
		SourceRegion:        "eu-central-003",
		QueueURL:            "https://sqs.eu-west-1.amazonaws.com/111122223333/q.fifo",
		DeadLetterQueueURL:  "https://sqs.eu-west-1.amazonaws.com/111122223333/dlq.fifo",
		SourceHMACSecretARN: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:hmac-AbCdEf",
		PartSizeMiB:         64,
		PartConcurrency:     3,
		BatchConcurrency:    2,
		Rules:               KeyRules{IncludePrefixes: []string{"img/", "video/"}, ExcludeSuffixes: []string{".tmp"}},
	}
}

// Environ is the inverse of ConfigFromEnv, both ways: a configuration
// written and read back is the same, and so is an environment read and
// written again.
func TestEnvironRoundTripsThroughConfigFromEnv(t *testing.T) {
	minimal := DefaultConfig()
	minimal.DestinationBucket, minimal.SourceBucket, minimal.QueueURL, minimal.DeadLetterQueueURL = "dst", "src", "q", "dlq"
	for name, want := range map[string]Config{"every field set": fullConfig(), "defaults": minimal} {
		written := want.Environ()
		got, err := ConfigFromEnv(env(written))
		if err != nil {
			t.Fatalf("%s: %v reading back %v", name, err, written)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read back %+v\nfrom %v\nwant %+v", name, got, written, want)
		}
		if again := got.Environ(); !maps.Equal(again, written) {
			t.Errorf("%s: written again %v, want %v", name, again, written)
		}
	}
	// A rule list that is empty or unset is no rule, and is written as [].
	cfg, err := ConfigFromEnv(env(map[string]string{EnvDestinationBucket: "dst", EnvSourceBucket: "src", EnvQueueURL: "q", EnvDeadLetterQueueURL: "dlq", EnvIncludePrefixes: "[]"}))
	if err != nil {
		t.Fatal(err)
	}
	if written := cfg.Environ(); cfg.Rules.IncludePrefixes != nil || cfg.Rules.ExcludeSuffixes != nil || written[EnvIncludePrefixes] != "[]" || written[EnvExcludeSuffixes] != "[]" {
		t.Errorf("no rules read as %+v, written as %v %v", cfg.Rules, written[EnvIncludePrefixes], written[EnvExcludeSuffixes])
	}
}

// Every variable the function reads is one Environ writes, and Environ
// writes nothing the function does not read: the stack and the harness,
// which both write the environment with Environ, cannot leave one out.
func TestEnvironWritesEveryVariableConfigFromEnvReads(t *testing.T) {
	written := fullConfig().Environ()
	read := map[string]bool{}
	if _, err := ConfigFromEnv(func(name string) string { read[name] = true; return written[name] }); err != nil {
		t.Fatal(err)
	}
	for name := range read {
		if _, ok := written[name]; !ok {
			t.Errorf("ConfigFromEnv reads %s, which Environ does not write", name)
		}
	}
	for name := range written {
		if !read[name] {
			t.Errorf("Environ writes %s, which ConfigFromEnv does not read", name)
		}
	}
	if len(read) != reflect.TypeOf(Config{}).NumField()+1 { // KeyRules is two variables
		t.Errorf("ConfigFromEnv reads %d variables for %d fields of Config", len(read), reflect.TypeOf(Config{}).NumField())
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
		EnvDestinationBucket: w.dst, EnvSourceBucket: w.src, EnvSourceEndpoint: gcsServer.URL,
		EnvQueueURL: w.queueURL, EnvDeadLetterQueueURL: w.dlqURL, EnvPartSizeMiB: "5",
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
		EnvDestinationBucket: "dst", EnvSourceBucket: "src", EnvQueueURL: "q", EnvDeadLetterQueueURL: "dlq",
		EnvPartConcurrency: "16", EnvBatchConcurrency: "16",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := HTTPClient(cfg).GetTransport().MaxIdleConnsPerHost; got != 32 {
		t.Errorf("AWS clients keep %d idle connections per host, want 32 (16 streams + 16 copies' own requests)", got)
	}
}
