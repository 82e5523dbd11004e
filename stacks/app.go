package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
)

// App is the two stacks of one deployment.
type App struct {
	Edge *EdgeStack
	Main *MainStack
}

// NewApp creates both stacks. The edge stack only needs to know where the queue will be (its
// name and region), so references go one way: edge version -> distribution.
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
		Config:         cfg,
		OriginResponse: edge.OriginResponse.Version,
	})
	return &App{Edge: edge, Main: main}, nil
}
