package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/backtoorigin/backtoorigin/internal/contract"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

// The transfer function's sizing and defaults are shared with the engine and the harness
// (contract); these are the stack's own.
const (
	// SQS redelivers after the visibility timeout; 6x the function timeout is what Lambda
	// recommends so a retried batch never overlaps a running one.
	queueVisibilityTimeout = 6 * contract.FunctionTimeout
	// Source-forbidden copies per 5 minutes that raise the alarm: a private bucket read without
	// credentials fails every copy; a bucket without public listing answers 403 for the odd
	// object deleted after it was served.
	sourceForbiddenAlarmThreshold = 10
)

type TransferProps struct {
	Bucket           awss3.IBucket
	SourceBucketName *string
	QueueName        string
	CodeDir          string
	MaxConcurrency   int
	AlarmEmail       string
	SourceHMACSecret string
	// SourceEndpoint and SourceRegion say where and how the source bucket is read.
	SourceEndpoint string
	SourceRegion   string
	// IncludePrefixes and ExcludeSuffixes are the key rules the edge applies; the function
	// applies them too, to messages the edge did not write.
	IncludePrefixes []string
	ExcludeSuffixes []string
}

// Transfer is the copy pipeline: the FIFO queue the edge writes to, its dead-letter queue, the
// Go function that copies GCS objects into the bucket, and the alarm on the dead-letter queue.
type Transfer struct {
	constructs.Construct
	Queue           awssqs.Queue
	DeadLetterQueue awssqs.Queue
	Function        awslambda.Function
	DeadLetterAlarm awscloudwatch.Alarm
	// SourceForbiddenAlarm fires when GCS denies many reads: a private bucket without
	// credentials (a few are missing objects of a bucket without public listing).
	SourceForbiddenAlarm awscloudwatch.Alarm
}

func NewTransfer(scope constructs.Construct, id string, props *TransferProps) *Transfer {
	this := constructs.NewConstruct(scope, &id)
	queue, dlq := newTransferQueues(this, props.QueueName)
	fn := newTransferFunction(this, props, queue, dlq)
	deadLetters, forbidden := newTransferAlarms(this, dlq, props.AlarmEmail)
	return &Transfer{Construct: this, Queue: queue, DeadLetterQueue: dlq, Function: fn, DeadLetterAlarm: deadLetters, SourceForbiddenAlarm: forbidden}
}

// newTransferQueues creates the FIFO queue the edge writes to, under the name the edge stack
// knows, and its dead-letter queue.
func newTransferQueues(scope constructs.Construct, name string) (queue, dlq awssqs.Queue) {
	dlq = awssqs.NewQueue(scope, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Fifo:            jsii.Bool(true),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This is the dead-letter queue; messages here wait for a person"),
	}}, nil)

	queue = awssqs.NewQueue(scope, jsii.String("Queue"), &awssqs.QueueProps{
		QueueName:  jsii.String(name),
		Fifo:       jsii.Bool(true),
		Encryption: awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL: jsii.Bool(true),
		// High-throughput FIFO: every key is its own message group, so keys copy in parallel
		// while duplicates of one key are still dropped.
		DeduplicationScope:  awssqs.DeduplicationScope_MESSAGE_GROUP,
		FifoThroughputLimit: awssqs.FifoThroughputLimit_PER_MESSAGE_GROUP_ID,
		VisibilityTimeout:   awscdk.Duration_Seconds(jsii.Number(queueVisibilityTimeout.Seconds())),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:     &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(contract.MaxReceiveCount)},
	})
	return queue, dlq
}

// transferEnvironment is the function's environment, written by the function's own Config
// (transferlambda.Config.Environ), so the stack cannot name a variable the function does not
// read. Bucket names and queue URLs are CDK tokens here, resolved in the template.
func transferEnvironment(props *TransferProps, queue, dlq awssqs.IQueue, secret awssecretsmanager.ISecret) *map[string]*string {
	cfg := transferlambda.DefaultConfig()
	cfg.DestinationBucket = *props.Bucket.BucketName()
	cfg.SourceBucket = *props.SourceBucketName
	cfg.SourceEndpoint = props.SourceEndpoint
	cfg.SourceRegion = props.SourceRegion
	cfg.QueueURL = *queue.QueueUrl()
	cfg.DeadLetterQueueURL = *dlq.QueueUrl()
	if secret != nil {
		cfg.SourceHMACSecretARN = *secret.SecretArn()
	}
	cfg.Rules = transferlambda.KeyRules{IncludePrefixes: props.IncludePrefixes, ExcludeSuffixes: props.ExcludeSuffixes}
	environment := map[string]*string{}
	for name, value := range cfg.Environ() {
		environment[name] = jsii.String(value)
	}
	return &environment
}

// newTransferFunction creates the Go function that copies source objects into the bucket, fed
// by the queue, with the least privilege it needs.
func newTransferFunction(scope constructs.Construct, props *TransferProps, queue, dlq awssqs.Queue) awslambda.Function {
	logGroup := awslogs.NewLogGroup(scope, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	var secret awssecretsmanager.ISecret
	if props.SourceHMACSecret != "" {
		secret = importSecret(scope, props.SourceHMACSecret)
	}

	fn := awslambda.NewFunction(scope, jsii.String("Function"), &awslambda.FunctionProps{
		Description:           jsii.String("Copies objects from GCS into the bucket, exactly and resumably"),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		Handler:               jsii.String("bootstrap"),
		Code:                  awslambda.Code_FromAsset(jsii.String(props.CodeDir), nil),
		MemorySize:            jsii.Number(contract.FunctionMemoryMiB),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(contract.FunctionTimeout.Seconds())),
		Environment:           transferEnvironment(props, queue, dlq, secret),
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		LogGroup:              logGroup,
	})
	fn.AddEventSource(awslambdaeventsources.NewSqsEventSource(queue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(contract.BatchSize),
		ReportBatchItemFailures: jsii.Bool(true),
		// Caps parallel copies, and with them GCS egress and request rate.
		MaxConcurrency: jsii.Number(float64(props.MaxConcurrency)),
	}))
	grantTransfer(fn, props.Bucket)
	// Continuations go back on the queue; messages that can never succeed go to the DLQ.
	queue.GrantSendMessages(fn)
	dlq.GrantSendMessages(fn)
	if secret != nil {
		secret.GrantRead(fn, nil)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(fn, &[]*cdknag.NagPackSuppression{
		{
			Id:        jsii.String("AwsSolutions-IAM4"),
			Reason:    jsii.String("AWSLambdaBasicExecutionRole only lets the function write its own logs"),
			AppliesTo: &[]any{jsii.String("Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")},
		},
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String("The function copies any key of its own bucket, so object actions apply to bucket/*"),
			AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::<.*Bucket.*\.Arn>\/\*$/`)}},
		},
	}, jsii.Bool(true))
	return fn
}

// grantTransfer is least privilege, spelled out: read to see whether a key is there
// (ListBucket turns a missing key into 404 instead of 403), find the open upload of a key to
// join it, write new objects, manage its own multipart uploads. No delete: the function can
// never remove migrated data.
func grantTransfer(fn awslambda.Function, bucket awss3.IBucket) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:ListBucket", "s3:ListBucketMultipartUploads"),
		Resources: jsii.Strings(*bucket.BucketArn()),
	}))
	objects := jsii.Strings(*bucket.ArnForObjects(jsii.String("*")))
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
		Resources: objects,
	}))
	// No overwrite, enforced by IAM and not only by the code: s3:PutObject (which also covers
	// CompleteMultipartUpload) only with If-None-Match, or If-Match for the migration command's
	// refresh of stale copies. Conditions of one statement must all hold, so each way in is its
	// own statement. CreateMultipartUpload and UploadPart take no conditional headers and are
	// exempted through s3:ObjectCreationOperation, which is false for them, as in AWS's examples:
	// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
	for _, condition := range []map[string]any{
		{"Null": map[string]string{"s3:if-none-match": "false"}},
		{"Null": map[string]string{"s3:if-match": "false"}},
		{"Bool": map[string]string{"s3:ObjectCreationOperation": "false"}},
	} {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("s3:PutObject"),
			Resources:  objects,
			Conditions: &condition,
		}))
	}
}

// newTransferAlarms alarms on dead letters and on a rate of source-forbidden copies, both
// notifying alarmEmail when given.
func newTransferAlarms(scope constructs.Construct, dlq awssqs.Queue, alarmEmail string) (deadLetters, forbidden awscloudwatch.Alarm) {
	deadLetters = awscloudwatch.NewAlarm(scope, jsii.String("DeadLetterAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("Transfer messages are in the dead-letter queue: a key could not be copied and waits for a person"),
		Metric: dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Minutes(jsii.Number(5)),
			Statistic: jsii.String("Maximum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	var topic awssns.Topic
	if alarmEmail != "" {
		topic = awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
			DisplayName: jsii.String("Back-to-origin transfer alarms"),
			EnforceSSL:  jsii.Bool(true),
		})
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(alarmEmail), nil))
		deadLetters.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		cdknag.NagSuppressions_AddResourceSuppressions(topic, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-SNS2"),
			Reason: jsii.String("Alarm notices carry no data; a KMS key CloudWatch may use would cost more than it protects"),
		}}, nil)
	}

	// The engine counts source-forbidden copies in its EMF object lines (namespace BackToOrigin).
	forbidden = awscloudwatch.NewAlarm(scope, jsii.String("SourceForbiddenAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("GCS denied many transfer reads (403): the bucket is private and the function has no or wrong credentials (sourceHmacSecret), or many served objects were deleted"),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(contract.MetricsNamespace),
			MetricName: jsii.String("SourceForbidden"),
			Period:     awscdk.Duration_Minutes(jsii.Number(5)),
			Statistic:  jsii.String("Sum"),
		}),
		Threshold:          jsii.Number(sourceForbiddenAlarmThreshold),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if topic != nil {
		forbidden.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
	}
	return deadLetters, forbidden
}

// importSecret accepts a secret's full ARN or its name.
func importSecret(scope constructs.Construct, nameOrArn string) awssecretsmanager.ISecret {
	id := jsii.String("SourceHmacSecret")
	if strings.HasPrefix(nameOrArn, "arn:") {
		return awssecretsmanager.Secret_FromSecretCompleteArn(scope, id, jsii.String(nameOrArn))
	}
	return awssecretsmanager.Secret_FromSecretNameV2(scope, id, jsii.String(nameOrArn))
}
