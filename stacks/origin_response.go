package stacks

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/backtoorigin/backtoorigin/internal/edgebundle"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// EdgeSettings are baked into the edge bundle as settings.mjs: Lambda@Edge has no environment
// variables, and origin custom headers would leak them to GCS.
type EdgeSettings = edgebundle.Settings

type OriginResponseProps struct {
	// CodeDir holds index.mjs, the handler; settings.mjs is written next to it in the bundle.
	CodeDir  string
	Settings EdgeSettings
}

// OriginResponse is the Lambda@Edge origin-response function that enqueues keys served by GCS.
type OriginResponse struct {
	constructs.Construct
	Function awslambda.Function
	// Version is what CloudFront associates; Lambda@Edge needs a numbered version.
	Version awslambda.IVersion
	// VersionLogicalID is the version's logical id, which CDK derives from a hash of the
	// function's code and configuration: it changes exactly when a new version is published.
	VersionLogicalID *string
}

func NewOriginResponse(scope constructs.Construct, id string, props *OriginResponseProps) (*OriginResponse, error) {
	this := constructs.NewConstruct(scope, &id)
	stack := awscdk.Stack_Of(this)

	bundle, err := stageEdgeBundle(props.CodeDir, props.Settings)
	if err != nil {
		return nil, err
	}
	// The asset is copied into the cloud assembly when the function binds its code, below.
	defer os.RemoveAll(bundle)

	role := awsiam.NewRole(this, jsii.String("Role"), &awsiam.RoleProps{
		Description: jsii.String("Lambda@Edge origin-response: write logs, send to the transfer queue"),
		AssumedBy: awsiam.NewCompositePrincipal(
			awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			awsiam.NewServicePrincipal(jsii.String("edgelambda.amazonaws.com"), nil),
		),
	})

	fn := awslambda.NewFunction(this, jsii.String("Function"), &awslambda.FunctionProps{
		Description:  jsii.String("Queues objects that CloudFront served from GCS for copying to S3"),
		Runtime:      awslambda.Runtime_NODEJS_22_X(),
		Architecture: awslambda.Architecture_X86_64(),
		Handler:      jsii.String("index.handler"),
		Code:         awslambda.Code_FromAsset(jsii.String(bundle), nil),
		MemorySize:   jsii.Number(128),
		// The handler bounds its own SQS call to about a second; this only catches a hung runtime.
		Timeout: awscdk.Duration_Seconds(jsii.Number(5)),
		Role:    role,
	})

	// Lambda@Edge writes logs in every region it runs in, under /aws/lambda/us-east-1.<name>.
	// A policy of its own, not the role's default one: it names the function, which already
	// depends on the default policy.
	logs := awsiam.NewPolicy(this, jsii.String("Logs"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{role},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:logs:*:%s:log-group:/aws/lambda/us-east-1.%s:*",
				*stack.Partition(), *stack.Account(), *fn.FunctionName())),
		})},
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sqs:SendMessage"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:sqs:%s:%s:%s",
			*stack.Partition(), props.Settings.QueueRegion, *stack.Account(), props.Settings.QueueName)),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(logs, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Lambda@Edge runs and logs in every region, so its log-group ARN needs a region wildcard; the log group name is fixed"),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:logs:\*:<AWS::AccountId>:log-group:\/aws\/lambda\/us-east-1\..*:\*$/`)}},
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(fn, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-L1"),
		Reason: jsii.String("Lambda@Edge supports fewer runtimes than Lambda; Node.js 22 is the one this handler is built and tested for"),
	}}, nil)

	version := fn.CurrentVersion()
	return &OriginResponse{
		Construct:        this,
		Function:         fn,
		Version:          version,
		VersionLogicalID: version.Node().DefaultChild().(awscdk.CfnResource).LogicalId(),
	}, nil
}

// stageEdgeBundle writes the handler and its settings into a fresh folder, so the deployed
// bundle is exactly index.mjs + settings.mjs.
func stageEdgeBundle(codeDir string, settings EdgeSettings) (string, error) {
	dir, err := os.MkdirTemp("", "edge-bundle-")
	if err != nil {
		return "", fmt.Errorf("edge bundle: %w", err)
	}
	if err := edgebundle.Write(dir, codeDir, settings, "the "+EdgeStackName+" stack at synth"); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
