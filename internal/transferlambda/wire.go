package transferlambda

import (
	"context"
	"fmt"
	"log/slog"

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
	source := &transfer.Source{
		Endpoint: cfg.SourceEndpoint,
		Bucket:   cfg.SourceBucket,
		Region:   cfg.SourceRegion,
		HTTP:     transfer.NewSourceHTTPClient(),
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
