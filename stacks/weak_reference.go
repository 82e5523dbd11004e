package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// WeakExportProps describe one value a stack publishes for another stack to read.
type WeakExportProps struct {
	// Value is what the consuming stack reads, usually a token of the producing stack (an ARN).
	Value *string
	// RefreshToken is a plain string, known at synth, that changes whenever Value will change
	// (for a Lambda version: its logical id, which carries the hash of the function's code and
	// configuration). The reader's properties carry it, so CloudFormation re-reads the value
	// exactly when it changed, and not on every deploy.
	RefreshToken string
	Description  string
}

// WeakExport carries a value from one stack to another without a CloudFormation export.
//
// A strong reference (Fn::ImportValue, or CDK's crossRegionReferences) names its export after
// the referenced resource's logical id. A Lambda version's logical id changes with its code, so
// the second deploy after an edge change would have to delete an export that is still in use,
// which CloudFormation refuses (aws-cdk#28200, #22842, #14230; CDK 2.240.0 has no weak
// references). Here the producing stack writes the value to an SSM parameter with a fixed name,
// and the consuming stack reads it back with a custom resource, as CDK's own
// cloudfront.experimental.EdgeFunction does: nothing the consumer imports is ever renamed, and
// both stacks can be updated in any order.
type WeakExport struct {
	constructs.Construct
	// ParameterName is the SSM parameter's fixed name, derived from the producing stack's name so
	// that the consumer can know it before either stack exists.
	ParameterName string
	// Region is the producing stack's region, where the parameter lives.
	Region       string
	refreshToken string
}

// NewWeakExport writes props.Value to an SSM parameter named /<stack name>/<id> in scope's stack.
func NewWeakExport(scope constructs.Construct, id string, props *WeakExportProps) *WeakExport {
	this := constructs.NewConstruct(scope, &id)
	stack := awscdk.Stack_Of(this)
	name := "/" + *stack.StackName() + "/" + id
	awsssm.NewStringParameter(this, jsii.String("Parameter"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(name),
		StringValue:   props.Value,
		Description:   jsii.String(props.Description),
	})
	return &WeakExport{Construct: this, ParameterName: name, Region: *stack.Region(), refreshToken: props.RefreshToken}
}

// ImportInto reads the value in scope's stack. The consuming stack must be deployed after the
// producing one (a stack dependency, which NewApp adds), never through an export.
func (w *WeakExport) ImportInto(scope constructs.Construct, id string) *string {
	read := &customresources.AwsSdkCall{
		Service:            jsii.String("SSM"),
		Action:             jsii.String("getParameter"),
		Parameters:         map[string]any{"Name": w.ParameterName},
		Region:             jsii.String(w.Region),
		PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String(w.ParameterName)),
	}
	parameterArn := awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("ssm"),
		Region:       jsii.String(w.Region),
		Resource:     jsii.String("parameter"),
		ResourceName: jsii.String(strings.TrimPrefix(w.ParameterName, "/")),
	})
	reader := customresources.NewAwsCustomResource(scope, &id, &customresources.AwsCustomResourceProps{
		ResourceType: jsii.String("Custom::WeakImport"),
		OnCreate:     read,
		OnUpdate:     read,
		Policy: customresources.AwsCustomResourcePolicy_FromSdkCalls(&customresources.SdkCallsPolicyOptions{
			Resources: &[]*string{parameterArn},
		}),
		// The runtime's own SDK has getParameter; installing the latest one at deploy time
		// would need npm from inside the function and make every deploy slower.
		InstallLatestAwsSdk: jsii.Bool(false),
	})
	// An extra property is ignored by the provider, but a change in it is an Update, which
	// re-runs the read: exactly when the producer's value changed.
	cfn := reader.Node().FindChild(jsii.String("Resource")).Node().DefaultChild().(awscdk.CfnResource)
	cfn.AddPropertyOverride(jsii.String("RefreshToken"), jsii.String(w.refreshToken))
	return reader.GetResponseField(jsii.String("Parameter.Value"))
}
