package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// App is the two stacks of one deployment.
type App struct {
	Edge *EdgeStack
	Main *MainStack
}

// NewApp creates both stacks. The edge stack only needs to know where the queue will be (its
// name and region), and the main stack reads the edge version through an SSM parameter
// (WeakExport), so no CloudFormation export links them: the main stack is deployed after the
// edge stack, and either can change without the other refusing.
func NewApp(app awscdk.App, cfg Config) (*App, error) {
	edge, err := NewEdgeStack(app, EdgeStackName, &EdgeStackProps{
		Config:      cfg,
		QueueName:   TransferQueueName(MainStackName),
		QueueRegion: cfg.Region,
	})
	if err != nil {
		return nil, err
	}
	main := NewMainStack(app, MainStackName, &MainStackProps{
		Config:                cfg,
		OriginResponseVersion: edge.OriginResponseVersion,
		OriginRequestVersion:  edge.OriginRequestVersion,
		Certificate:           edge.Certificate,
	})
	main.AddDependency(edge.Stack, jsii.String("the distribution uses the edge function's newest version"))
	return &App{Edge: edge, Main: main}, nil
}
