package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

type EdgeStackProps struct {
	awscdk.StackProps
	Config Config
	// QueueName and QueueRegion locate the transfer queue of the main stack.
	QueueName   string
	QueueRegion string
}

// EdgeStack holds the Lambda@Edge function, which must live in us-east-1.
type EdgeStack struct {
	awscdk.Stack
	OriginResponse *OriginResponse
	// OriginResponseVersion publishes the version's ARN for the main stack, weakly.
	OriginResponseVersion *WeakExport
}

func NewEdgeStack(scope constructs.Construct, id string, props *EdgeStackProps) (*EdgeStack, error) {
	sprops := props.StackProps
	sprops.Env = props.Config.env(EdgeRegion)
	if sprops.Description == nil {
		sprops.Description = jsii.String("Back-to-origin: Lambda@Edge origin-response handler that queues objects served from GCS")
	}
	stack := awscdk.NewStack(scope, &id, &sprops)

	originResponse, err := NewOriginResponse(stack, "OriginResponse", &OriginResponseProps{
		CodeDir: props.Config.EdgeCodeDir,
		Settings: EdgeSettings{
			QueueName:       props.QueueName,
			QueueRegion:     props.QueueRegion,
			GCSDomainName:   GCSDomainName,
			IncludePrefixes: props.Config.IncludePrefixes,
			ExcludeSuffixes: props.Config.ExcludeSuffixes,
		},
	})
	if err != nil {
		return nil, err
	}
	version := NewWeakExport(stack, "OriginResponseVersion", &WeakExportProps{
		Value:        originResponse.Version.FunctionArn(),
		RefreshToken: *originResponse.VersionLogicalID,
		Description:  "ARN of the origin-response function's current version, read by the " + MainStackName + " stack",
	})
	return &EdgeStack{Stack: stack, OriginResponse: originResponse, OriginResponseVersion: version}, nil
}
