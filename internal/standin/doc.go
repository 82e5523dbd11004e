// Package standin starts local stand-ins for the cloud services the transfer
// engine talks to, so tests, the benchmark and the end-to-end harness run
// against real servers on 127.0.0.1 without an AWS or Google account.
//
//   - S3: versitygw (posix backend) as a child process, see [StartS3].
//   - GCS: fake-gcs-server in process, see [StartGCS].
//   - SQS: local-aws-sqs (npm) under node as a child process, see [StartSQS].
//
// Every server listens on a free port picked at run time (other test
// binaries run at the same time) and uses throwaway credentials generated at
// start. Each StartX function has a testing.TB twin (NewS3, NewGCS, NewSQS)
// that registers the shutdown with tb.Cleanup, so no process outlives a test.
//
// The external binaries live in <module root>/.tools (git-ignored) and are
// installed by `make tools`; a missing binary fails with a message saying so.
package standin
