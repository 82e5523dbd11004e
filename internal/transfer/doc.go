// Package transfer copies objects from Google Cloud Storage (or any
// S3-compatible origin) to S3 exactly: byte for byte, with their metadata,
// never overwriting, resumable across invocations. It has no Lambda
// dependency; the transfer Lambda (internal/transferlambda), the benchmark
// and tests drive it through [Engine.Copy].
//
//	engine, err := transfer.New(transfer.Config{
//		S3:     s3.NewFromConfig(awsCfg),
//		Bucket: "destination-bucket",
//		Source: &transfer.Source{Endpoint: transfer.DefaultSourceEndpoint, Bucket: "gcs-bucket"},
//	})
//	res, err := engine.Copy(ctx, "img/a b+c.png", nil)
//
// README.md in this folder explains parts, checksums, resume, conditional
// writes, retries and the Lambda's environment; the queue message is
// internal/queuemsg's.
package transfer
