package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/backtoorigin/backtoorigin/internal/sourceendpoint"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

// GCSBucketNamePattern accepts GCS bucket names: 3-63 characters of a-z 0-9 - _ . that start
// and end with a letter or digit.
const GCSBucketNamePattern = `^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`

type MainStackProps struct {
	awscdk.StackProps
	Config Config
	// TransferQueueName is the transfer queue's physical name, which the edge stack sends to
	// (NewApp decides it).
	TransferQueueName string
	// OriginResponseVersion is the edge function's version ARN, published by the edge stack in
	// us-east-1 and read back weakly, so that a new version never renames an import.
	OriginResponseVersion *WeakExport
	// OriginRequestVersion is the signing function's version, carried the same way; nil when
	// the source is read anonymously.
	OriginRequestVersion *WeakExport
	// Certificate, when the edge stack issues one, is its ARN, carried the same way.
	Certificate *WeakExport
}

// MainStack holds the bucket, the distribution and the transfer pipeline.
type MainStack struct {
	awscdk.Stack
	Bucket   awss3.Bucket
	Delivery *Delivery
	Transfer *Transfer
}

func NewMainStack(scope constructs.Construct, id string, props *MainStackProps) *MainStack {
	cfg := props.Config
	sprops := props.StackProps
	sprops.Env = cfg.env(cfg.Region)
	if sprops.Description == nil {
		sprops.Description = jsii.String("Back-to-origin: CloudFront serves from S3 and falls back to GCS; missed objects are copied to S3")
	}
	stack := awscdk.NewStack(scope, &id, &sprops)
	if cfg.RegionDefaulted {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("backtoorigin:region"),
			jsii.String("No region set (CDK_DEFAULT_REGION or -c region=...): synthesized for "+cfg.Region))
	}
	if cfg.SourceOriginShieldDefaulted {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("backtoorigin:sourceOriginShield"),
			jsii.String("The GCS origin's Origin Shield is in "+cfg.SourceOriginShieldRegion+", near the S3 bucket, not near the GCS bucket: set -c "+
				ContextSourceLocation+"=<the GCS bucket's location, e.g. us-central1 or EU> or -c "+ContextSourceOriginShield+"=<region>"))
	}

	gcsBucketName := awscdk.NewCfnParameter(stack, jsii.String("gcsBucketName"), &awscdk.CfnParameterProps{
		Type:                  jsii.String("String"),
		Description:           jsii.String("Name of the public GCS bucket being migrated (served from " + sourceendpoint.Default + "/NAME)"),
		AllowedPattern:        jsii.String(GCSBucketNamePattern),
		ConstraintDescription: jsii.String("a GCS bucket name: 3-63 characters of a-z 0-9 - _ . starting and ending with a letter or digit"),
	})

	bucket := newMigrationBucket(stack, cfg.AutoDeleteBucket, cfg.Distribution.CORSAllowOrigins)

	transfer := NewTransfer(stack, "Transfer", &TransferProps{
		Bucket:           bucket,
		SourceBucketName: gcsBucketName.ValueAsString(),
		QueueName:        props.TransferQueueName,
		CodeDir:          cfg.TransferCodeDir,
		MaxConcurrency:   cfg.TransferMaxConcurrency,
		AlarmEmail:       cfg.AlarmEmail,
		SourceHMACSecret: cfg.SourceHMACSecret,
		SourceEndpoint:   cfg.Source.Raw,
		SourceRegion:     cfg.SourceRegion,
		IncludePrefixes:  cfg.IncludePrefixes,
		ExcludeSuffixes:  cfg.ExcludeSuffixes,
	})
	versionArn := jsii.String(cfg.EdgeVersionArn)
	if cfg.EdgeVersionArn == "" {
		versionArn = props.OriginResponseVersion.ImportInto(stack, "OriginResponseVersion")
	}
	certificateArn := cfg.Distribution.CertificateArn
	if props.Certificate != nil {
		certificateArn = *props.Certificate.ImportInto(stack, "Certificate")
	}
	var originRequest awslambda.IVersion
	if props.OriginRequestVersion != nil {
		originRequest = awslambda.Version_FromVersionArn(stack, jsii.String("OriginRequest"),
			props.OriginRequestVersion.ImportInto(stack, "OriginRequestVersion"))
	}
	delivery := NewDelivery(stack, "Delivery", &DeliveryProps{
		OriginRequest:            originRequest,
		Settings:                 cfg.Distribution,
		CertificateArn:           certificateArn,
		AutoDeleteLogs:           cfg.AutoDeleteBucket,
		Bucket:                   bucket,
		Source:                   cfg.Source,
		GCSBucketName:            gcsBucketName.ValueAsString(),
		S3OriginShieldRegion:     cfg.OriginShieldRegion,
		SourceOriginShieldRegion: cfg.SourceOriginShieldRegion,
		OriginResponse:           awslambda.Version_FromVersionArn(stack, jsii.String("OriginResponse"), versionArn),
	})

	NewDashboard(stack, "Dashboard", &DashboardProps{
		Transfer:    transfer,
		EdgeRegions: []string{cfg.OriginShieldRegion, cfg.SourceOriginShieldRegion},
	})

	output := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
	output("DistributionDomainName", *delivery.Distribution.DistributionDomainName(), "Viewers fetch objects from https://<this>/KEY")
	output("DistributionId", *delivery.Distribution.DistributionId(), "CloudFront distribution id (for invalidations)")
	output("BucketName", *bucket.BucketName(), "S3 bucket that receives the migrated objects")
	output("TransferQueueUrl", *transfer.Queue.QueueUrl(), "FIFO queue of keys waiting to be copied")
	output("DeadLetterQueueUrl", *transfer.DeadLetterQueue.QueueUrl(), "Keys that could not be copied, with the reason")
	// For the backtoorigin command: where the source bucket is read from ({bucket} in the host:
	// virtual-hosted) and the SigV4 region of signed reads.
	output("SourceEndpoint", cfg.Source.Raw, "Endpoint of the source bucket ("+sourceendpoint.BucketPlaceholder+" in the host: virtual-hosted; else path-style /BUCKET/KEY)")
	output("SourceRegion", cfg.SourceRegion, "SigV4 region of signed source reads (auto for GCS)")
	// The key rules, as the transfer function reads them: a backfill does not queue, and verify
	// does not count missing, a key the deployment never copies.
	rules := transferlambda.Config{Rules: transferlambda.KeyRules{IncludePrefixes: cfg.IncludePrefixes, ExcludeSuffixes: cfg.ExcludeSuffixes}}.Environ()
	output("IncludePrefixes", rules[transferlambda.EnvIncludePrefixes], "Key rules: only keys under one of these prefixes are copied (JSON; [] = every key)")
	output("ExcludeSuffixes", rules[transferlambda.EnvExcludeSuffixes], "Key rules: keys ending in one of these are never copied (JSON)")

	// CDK's own helper functions (the weak import's SDK call, bucket auto-delete) use managed
	// policies and runtimes chosen by CDK.
	cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String("CDK-provided custom-resource providers use AWSLambdaBasicExecutionRole"),
			AppliesTo: &[]any{jsii.String("Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")}},
		{Id: jsii.String("AwsSolutions-L1"), Reason: jsii.String("CDK-provided custom-resource providers pin their own runtime")},
	}, jsii.Bool(true))

	return &MainStack{Stack: stack, Bucket: bucket, Delivery: delivery, Transfer: transfer}
}

// newMigrationBucket keeps migrated data through `cdk destroy` unless the deployment is a
// throwaway one (context autoDeleteBucket=true).
//
// With CORS on, S3 answers every preflight (OPTIONS) for the allowed origins itself, whether the
// key exists or not, so a preflight never fails over and succeeds before and after the copy;
// the distribution's response headers policy decides the CORS headers viewers get.
func newMigrationBucket(scope constructs.Construct, autoDelete bool, corsOrigins []string) awss3.Bucket {
	removal := awscdk.RemovalPolicy_RETAIN
	if autoDelete {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	bucket := awss3.NewBucket(scope, jsii.String("Bucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     removal,
		AutoDeleteObjects: jsii.Bool(autoDelete),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("AbortIncompleteMultipartUploads"),
			// Long enough for a resumed multi-invocation copy of a 5 TiB object to finish.
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}},
	})
	if len(corsOrigins) > 0 {
		bucket.AddCorsRule(&awss3.CorsRule{
			AllowedOrigins: jsii.Strings(corsOrigins...),
			AllowedMethods: &[]awss3.HttpMethods{awss3.HttpMethods_GET, awss3.HttpMethods_HEAD},
			AllowedHeaders: jsii.Strings("*"),
			MaxAge:         jsii.Number(corsMaxAgeSeconds),
		})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(bucket, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("Reads come through CloudFront and writes from the transfer function, both observable; server access logs would need a second bucket"),
	}}, nil)
	return bucket
}
