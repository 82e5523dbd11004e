// Command transfer is the transfer Lambda: it copies objects named by SQS
// messages from GCS to S3. Everything here is wiring; the work is in
// internal/transferlambda (the batch handler) and internal/transfer (the
// copy engine).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

func main() {
	slog.SetDefault(lambdacontext.NewLogger())
	ctx := context.Background()

	cfg, err := transferlambda.ConfigFromEnv(os.Getenv)
	if err != nil {
		fail(err)
	}
	// Honours AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SQS for stand-ins.
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(transferlambda.HTTPClient(cfg)))
	if err != nil {
		fail(err)
	}
	handler, err := transferlambda.NewHandler(ctx, cfg, transferlambda.Clients{
		S3:      s3.NewFromConfig(awsCfg),
		SQS:     sqs.NewFromConfig(awsCfg),
		Secrets: secretsmanager.NewFromConfig(awsCfg),
	}, slog.Default())
	if err != nil {
		fail(err)
	}
	lambda.Start(handler.Handle)
}

// fail ends init: Lambda reports the error and does not run the function.
func fail(err error) {
	slog.Error("init failed", "error", err)
	os.Exit(1)
}
