package transferlambda

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// Clients are the AWS clients the function builds once per container.
type Clients struct {
	S3      transfer.S3API
	SQS     Queue
	Secrets SecretsAPI // used only when SOURCE_HMAC_SECRET_ARN is set
}

// NewHandler builds the engine and the handler from the configuration,
// reading the source HMAC secret now (once per container) if one is named.
func NewHandler(ctx context.Context, cfg Config, c Clients, logger *slog.Logger) (*Handler, error) {
	sourceHTTP := transfer.NewSourceHTTPClient()
	if t, ok := sourceHTTP.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, cfg.Connections())
	}
	source := &transfer.Source{
		Endpoint: cfg.SourceEndpoint,
		Bucket:   cfg.SourceBucket,
		Region:   cfg.SourceRegion,
		HTTP:     sourceHTTP,
	}
	if cfg.SourceHMACSecretARN != "" {
		creds, err := SourceCredentials(ctx, c.Secrets, cfg.SourceHMACSecretARN)
		if err != nil {
			return nil, err
		}
		source.Credentials = creds
	}
	engine, err := transfer.New(transfer.Config{
		S3:              c.S3,
		Bucket:          cfg.DestinationBucket,
		Source:          source,
		PartSize:        int64(cfg.PartSizeMiB) << 20,
		PartConcurrency: cfg.PartConcurrency,
		Logger:          logger,
		ResultHook:      copyLogger(logger),
	})
	if err != nil {
		return nil, fmt.Errorf("build transfer engine: %w", err)
	}
	return &Handler{
		Copier:             engine,
		Queue:              c.SQS,
		QueueURL:           cfg.QueueURL,
		DeadLetterQueueURL: cfg.DeadLetterQueueURL,
		BatchConcurrency:   cfg.BatchConcurrency,
		Rules:              cfg.Rules,
		Logger:             logger,
	}, nil
}

// Connections is how many requests the function can have open to one host
// at once: every stream (PART_CONCURRENCY, shared by all copies) plus one
// request of each copy's own (a HEAD, a listing, a complete) per message
// group in flight (BATCH_CONCURRENCY).
func (c Config) Connections() int { return c.PartConcurrency + c.BatchConcurrency }

// HTTPClient is the AWS clients' HTTP client: the SDK's default keeps 10
// idle connections per host, so at a batch concurrency of 16 most requests
// of a batch of small objects would open (and against S3, TLS-handshake) a
// new connection and close it again. This one keeps Connections() idle.
func HTTPClient(cfg Config) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = cfg.Connections()
		t.MaxIdleConns = max(t.MaxIdleConns, 4*cfg.Connections()) // S3, SQS, Secrets Manager
	})
}
