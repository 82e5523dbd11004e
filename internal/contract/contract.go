package contract

import "time"

// Stack names are part of the interface: users deploy with
// `--parameters BackToOrigin:gcsBucketName=NAME`, and the transfer queue's
// name is derived from the main stack's.
const (
	MainStackName = "BackToOrigin"
	EdgeStackName = "BackToOriginEdge"
)

// TransferQueueName is the transfer queue's physical name. It is fixed in
// advance because the edge function (another region, another stack) builds
// the queue URL from it at run time and its IAM policy names it: no
// cross-stack reference goes from the main stack to the edge stack.
func TransferQueueName(mainStackName string) string {
	return mainStackName + "-transfer.fifo"
}

// The transfer function's time budget. The timeout bounds one invocation
// only: a copy that needs longer resumes in the next one.
const (
	// FunctionTimeout is the transfer function's timeout.
	FunctionTimeout = 5 * time.Minute
	// StopMargin is how long before the deadline the engine stops starting
	// parts, so an invocation can record its progress and re-enqueue.
	StopMargin = 20 * time.Second
	// WorkWindow is the time one part may stream within an invocation; the
	// engine sizes parts so that one started at the beginning finishes.
	WorkWindow = FunctionTimeout - StopMargin
)

// FunctionMemoryMiB is the transfer function's memory. Memory buys CPU (TLS
// on both sides, checksums) and network bandwidth; the copy itself needs
// little, since parts stream from the source to S3 without being held (about
// 20 MiB resident, measured).
const FunctionMemoryMiB = 1024

// Copy defaults: what the stack deploys and what the engine and the Lambda
// fall back to when a setting is left out. Parts stream from the source to
// S3, so memory grows with neither.
const (
	// PartSizeMiB is the multipart part size.
	PartSizeMiB = 16
	// PartConcurrency is how many parts of one object stream at once.
	PartConcurrency = 8
	// BatchSize is how many queue records one invocation receives (the SQS
	// event source's batch size).
	BatchSize = 4
	// BatchConcurrency is how many of those records one invocation copies at
	// once: all of them, so a batch takes as long as its longest copy.
	BatchConcurrency = BatchSize
)

// MetricsNamespace is the CloudWatch namespace of every metric the system
// emits: the transfer function's per-object line, the edge function's
// OriginFetches line (lambda/edge/index.mjs, held to this by a test), the
// stack's alarms and dashboard, and the status command's queries.
const MetricsNamespace = "BackToOrigin"

// MaxReceiveCount is how many times the transfer queue delivers a message
// that fails (without making progress) before it moves to the dead-letter
// queue.
const MaxReceiveCount = 5

// EdgeFunctionTimeout is the Lambda@Edge functions' timeout. Each handler
// bounds its own calls to about a second; this only catches a hung runtime.
const EdgeFunctionTimeout = 5 * time.Second
