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

	f := newEdgeFunction(this, edgeFunctionProps{
		RoleDescription: "Lambda@Edge origin-response: write logs, send to the transfer queue",
		Description:     "Queues objects that CloudFront served from GCS for copying to S3",
		Bundle:          bundle,
		Handler:         "index.handler",
	})
	role := f.Role
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sqs:SendMessage"),
		Resources: jsii.Strings(fmt.Sprintf("arn:%s:sqs:%s:%s:%s",
			*stack.Partition(), props.Settings.QueueRegion, *stack.Account(), props.Settings.QueueName)),
	}))
	return &OriginResponse{Construct: this, Function: f.Function, Version: f.Version, VersionLogicalID: f.VersionLogicalID}, nil
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
