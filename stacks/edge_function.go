package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/backtoorigin/backtoorigin/internal/contract"
)

// edgeFunctionProps describe one Lambda@Edge function of the edge stack.
type edgeFunctionProps struct {
	RoleDescription, Description string
	// Bundle is the staged folder (the handler and its baked settings), Handler its entry point.
	Bundle, Handler string
}

// edgeFunction is what every Lambda@Edge function here shares.
type edgeFunction struct {
	Role     awsiam.Role
	Function awslambda.Function
	Version  awslambda.IVersion
	// VersionLogicalID is the version's logical id, which CDK derives from a hash of the
	// function's code and configuration: it changes exactly when a new version is published.
	VersionLogicalID *string
}

// newEdgeFunction builds, in scope, a function as Lambda@Edge requires it (Node.js, x86_64, no
// environment, a numbered version; assumable by edgelambda.amazonaws.com) with a role that may
// only write its logs; the caller adds what the handler itself needs.
func newEdgeFunction(scope constructs.Construct, props edgeFunctionProps) edgeFunction {
	stack := awscdk.Stack_Of(scope)
	role := awsiam.NewRole(scope, jsii.String("Role"), &awsiam.RoleProps{
		Description: jsii.String(props.RoleDescription),
		AssumedBy: awsiam.NewCompositePrincipal(
			awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			awsiam.NewServicePrincipal(jsii.String("edgelambda.amazonaws.com"), nil),
		),
	})
	fn := awslambda.NewFunction(scope, jsii.String("Function"), &awslambda.FunctionProps{
		Description:  jsii.String(props.Description),
		Runtime:      awslambda.Runtime_NODEJS_22_X(),
		Architecture: awslambda.Architecture_X86_64(),
		Handler:      jsii.String(props.Handler),
		Code:         awslambda.Code_FromAsset(jsii.String(props.Bundle), nil),
		MemorySize:   jsii.Number(128),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(contract.EdgeFunctionTimeout.Seconds())),
		Role:         role,
	})
	// Lambda@Edge writes logs in every region it runs in, under /aws/lambda/us-east-1.<name>.
	// A policy of its own, not the role's default one: it names the function, which already
	// depends on the default policy.
	logs := awsiam.NewPolicy(scope, jsii.String("Logs"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{role},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:logs:*:%s:log-group:/aws/lambda/us-east-1.%s:*",
				*stack.Partition(), *stack.Account(), *fn.FunctionName())),
		})},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(logs, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Lambda@Edge runs and logs in every region, so its log-group ARN needs a region wildcard; the log group name is fixed"),
		AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:logs:\*:<AWS::AccountId>:log-group:\/aws\/lambda\/us-east-1\..*:\*$/`)}},
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(fn, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-L1"),
		Reason: jsii.String("Lambda@Edge supports fewer runtimes than Lambda; Node.js 22 is the one these handlers are built and tested for"),
	}}, nil)
	version := fn.CurrentVersion()
	return edgeFunction{
		Role:             role,
		Function:         fn,
		Version:          version,
		VersionLogicalID: version.Node().DefaultChild().(awscdk.CfnResource).LogicalId(),
	}
}
