package harness

import (
	"strings"
	"testing"

	"github.com/backtoorigin/backtoorigin/internal/contract"
	"github.com/backtoorigin/backtoorigin/internal/sourceendpoint"
	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// The transfer function runs locally with the environment the stack
// deploys (the same defaults, written by the same Config), pointed at the
// stand-ins; Options.TransferEnv replaces single variables.
func TestTransferEnvIsTheDeployedOnePointedAtTheStandIns(t *testing.T) {
	source, err := proxy.NewSwitch("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	h := &Harness{
		S3:                 &standin.S3Server{Endpoint: "http://127.0.0.1:9000", AccessKeyID: "key", SecretAccessKey: "secret", Region: "local-1"},
		SQS:                &standin.SQSServer{Endpoint: "http://127.0.0.1:9324"},
		Source:             source,
		QueueURL:           "http://127.0.0.1:9324/queue/" + QueueName,
		DeadLetterQueueURL: "http://127.0.0.1:9324/queue/" + DeadLetterQueueName,
	}
	read := func(opts Options) (transferlambda.Config, map[string]string) {
		t.Helper()
		env := map[string]string{}
		for _, kv := range h.transferEnv("http://127.0.0.1:9001", opts) {
			name, value, _ := strings.Cut(kv, "=")
			if _, dup := env[name]; dup {
				t.Errorf("%s set twice", name)
			}
			env[name] = value
		}
		cfg, err := transferlambda.ConfigFromEnv(func(name string) string { return env[name] })
		if err != nil {
			t.Fatalf("the function would fail its init: %v", err)
		}
		return cfg, env
	}

	cfg, env := read(Options{})
	want := transferlambda.DefaultConfig()
	want.DestinationBucket, want.SourceBucket = S3Bucket, GCSBucket
	want.SourceEndpoint = "http://" + source.Addr()
	want.QueueURL, want.DeadLetterQueueURL = h.QueueURL, h.DeadLetterQueueURL
	if cfg.PartSizeMiB != contract.PartSizeMiB || cfg.PartConcurrency != contract.PartConcurrency || cfg.BatchConcurrency != contract.BatchConcurrency {
		t.Errorf("copy settings %d MiB x %d, %d records at once; want the deployed defaults", cfg.PartSizeMiB, cfg.PartConcurrency, cfg.BatchConcurrency)
	}
	for name, value := range want.Environ() {
		if env[name] != value {
			t.Errorf("%s=%q, want %q", name, env[name], value)
		}
	}
	if cfg.SourceRegion != sourceendpoint.DefaultRegion || env["AWS_ENDPOINT_URL_S3"] != "http://127.0.0.1:9001" || env["AWS_ENDPOINT_URL_SQS"] != h.SQS.Endpoint {
		t.Errorf("environment %v: want GCS's region and the SDK pointed at the stand-ins", env)
	}

	h.PrivateSource = &standin.S3Server{Region: "us-west-004"}
	h.Secrets = &standin.SecretsManager{Endpoint: "http://127.0.0.1:9002"}
	cfg, env = read(Options{PrivateSource: true, TransferEnv: []string{transferlambda.EnvPartSizeMiB + "=5"}})
	if cfg.PartSizeMiB != 5 || cfg.SourceRegion != "us-west-004" || cfg.SourceHMACSecretARN != SourceHMACSecret || env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] != h.Secrets.Endpoint {
		t.Errorf("private source with a smaller part: %+v, %v", cfg, env)
	}
}
