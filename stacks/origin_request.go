package stacks

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/backtoorigin/backtoorigin/internal/edgebundle"
)

// SigningSettings are baked into the origin-request bundle.
type SigningSettings = edgebundle.SigningSettings

type OriginRequestProps struct {
	// CodeDir holds origin-request.mjs; its settings module is written next to it in the bundle.
	CodeDir  string
	Settings SigningSettings
}

// OriginRequest is the Lambda@Edge origin-request function that signs requests to a private
// source. It reads the one HMAC secret across regions, from the secret's home region: a
// replica per region would have to follow every region CloudFront may run the function in
// (the Origin Shield region, or any regional edge cache), each replica costs as much as the
// secret, and a rotation would have to reach every replica; the read happens once per
// container per key TTL (5 minutes), so the cross-region latency is paid rarely (README).
type OriginRequest struct {
	constructs.Construct
	Function         awslambda.Function
	Version          awslambda.IVersion
	VersionLogicalID *string
}

func NewOriginRequest(scope constructs.Construct, id string, props *OriginRequestProps) (*OriginRequest, error) {
	this := constructs.NewConstruct(scope, &id)
	stack := awscdk.Stack_Of(this)

	dir, err := os.MkdirTemp("", "origin-request-bundle-")
	if err != nil {
		return nil, fmt.Errorf("origin-request bundle: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := edgebundle.WriteOriginRequest(dir, props.CodeDir, props.Settings, "the "+EdgeStackName+" stack at synth"); err != nil {
		return nil, err
	}

	f := newEdgeFunction(this, edgeFunctionProps{
		RoleDescription: "Lambda@Edge origin-request: write logs, read the source HMAC secret",
		Description:     "Signs CloudFront's requests to the private source with its HMAC key; leaves the S3 request alone",
		Bundle:          dir,
		Handler:         strings.TrimSuffix(edgebundle.OriginRequestHandler, ".mjs") + ".handler",
	})
	role := f.Role
	// That one secret and nothing else. A name (not an ARN) gets Secrets Manager's random
	// six-character suffix, which IAM matches with "-??????".
	secretArn := props.Settings.SecretID
	if !strings.HasPrefix(secretArn, "arn:") {
		secretArn = fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", *stack.Partition(), props.Settings.SecretRegion, *stack.Account(), secretArn)
	}
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: jsii.Strings(secretArn),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("A secret named without its ARN has a random six-character suffix; -?????? matches exactly that one secret"),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:secretsmanager:.*-\?\?\?\?\?\?$/`)}},
	}}, jsii.Bool(true))
	return &OriginRequest{Construct: this, Function: f.Function, Version: f.Version, VersionLogicalID: f.VersionLogicalID}, nil
}
