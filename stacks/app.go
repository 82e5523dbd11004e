package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/backtoorigin/backtoorigin/internal/contract"
)

// App is the two stacks of one deployment.
type App struct {
	Edge *EdgeStack
	Main *MainStack
	// TransferQueueName is the transfer queue's physical name, decided here once: the main
	// stack creates the queue under it and the edge stack sends to it.
	TransferQueueName string
}

// NewApp creates both stacks. The edge stack only needs to know where the queue will be (its
// name and region), and the main stack reads the edge version through an SSM parameter
// (WeakExport), so no CloudFormation export links them: the main stack is deployed after the
// edge stack, and either can change without the other refusing.
func NewApp(app awscdk.App, cfg Config) (*App, error) {
	queueName := contract.TransferQueueName(MainStackName)
	edge, err := NewEdgeStack(app, EdgeStackName, &EdgeStackProps{
		Config:      cfg,
		QueueName:   queueName,
		QueueRegion: cfg.Region,
	})
	if err != nil {
		return nil, err
	}
	main := NewMainStack(app, MainStackName, &MainStackProps{
		Config:                cfg,
		TransferQueueName:     queueName,
		OriginResponseVersion: edge.OriginResponseVersion,
		OriginRequestVersion:  edge.OriginRequestVersion,
		Certificate:           edge.Certificate,
	})
	main.AddDependency(edge.Stack, jsii.String("the distribution uses the edge function's newest version"))
	return &App{Edge: edge, Main: main, TransferQueueName: queueName}, nil
}
