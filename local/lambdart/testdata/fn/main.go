// A Lambda function for lambdart's tests: its behaviour is chosen by the
// payload's "mode".
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Mode string `json:"mode"`
}

type response struct {
	Mode        string `json:"mode"`
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	DeadlineMs  int64  `json:"deadlineMs"`
	PID         int    `json:"pid"`
	Leak        string `json:"leak"`
	Name        string `json:"name"`
}

func handle(ctx context.Context, req request) (response, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	switch req.Mode {
	case "error":
		return response{}, errors.New("asked to fail")
	case "sleep":
		time.Sleep(time.Minute)
	case "crash":
		os.Exit(3)
	}
	return response{
		Mode:        req.Mode,
		RequestID:   lc.AwsRequestID,
		FunctionARN: lc.InvokedFunctionArn,
		DeadlineMs:  deadline.UnixMilli(),
		PID:         os.Getpid(),
		Leak:        os.Getenv("LAMBDART_TEST_LEAK"),
		Name:        lambdacontext.FunctionName,
	}, nil
}

func main() {
	lambda.Start(handle)
}
