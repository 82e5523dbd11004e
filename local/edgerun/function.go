package edgerun

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
)

// FunctionOptions says which CloudFront Function to run.
type FunctionOptions struct {
	// File is the function's code as deployed (lambda/viewer-request/index.js).
	File string
	// Logs receives the function's console output (nil: discarded).
	Logs io.Writer
}

// Function is a running node process hosting a CloudFront Function.
type Function struct{ hosted }

// StartFunction starts node on the function file and returns once it has
// loaded.
func StartFunction(ctx context.Context, opts FunctionOptions) (*Function, error) {
	file, err := filepath.Abs(opts.File)
	if err != nil {
		return nil, fmt.Errorf("locate %s: %w", opts.File, err)
	}
	r, err := startRunner(ctx, runnerSpec{
		prefix: "cffunction-",
		args:   []string{"function", file},
		logs:   opts.Logs,
		code:   file,
	})
	if err != nil {
		return nil, err
	}
	return &Function{hosted{runner: r, file: file}}, nil
}

// ViewerRequest runs the function on a viewer-request event and returns the
// request it let through. A function that answered the viewer itself (a
// response object) is an error here: the front serves no such responses.
func (f *Function) ViewerRequest(ctx context.Context, ev FunctionEvent) (FunctionRequest, error) {
	return callForRequest[FunctionRequest, viewerRequestResult](ctx, f.hosted, ev, nil)
}

// viewerRequestResult is a request, or a response (statusCode) if the
// function answered the viewer itself.
type viewerRequestResult struct {
	FunctionRequest
	StatusCode *int `json:"statusCode"`
}

func (r viewerRequestResult) request() (FunctionRequest, bool) {
	return r.FunctionRequest, r.StatusCode == nil && r.URI != ""
}

// The CloudFront Functions event (version 1.0), as documented in
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html
// for a viewer-request function: header names are lowercase, and a query
// string parameter, header or cookie is a value plus, when it repeats,
// every value in multiValue.

// FunctionEvent is what a viewer-request function receives.
type FunctionEvent struct {
	Version string          `json:"version"`
	Context FunctionContext `json:"context"`
	Viewer  FunctionViewer  `json:"viewer"`
	Request FunctionRequest `json:"request"`
}

// FunctionContext describes the distribution and the event.
type FunctionContext struct {
	DistributionDomainName string `json:"distributionDomainName"`
	DistributionID         string `json:"distributionId"`
	EventType              string `json:"eventType"`
	RequestID              string `json:"requestId"`
}

// FunctionViewer is the client.
type FunctionViewer struct {
	IP string `json:"ip"`
}

// FunctionRequest is the viewer's request; a function returns it, changed
// or not, to let it through.
type FunctionRequest struct {
	Method      string                   `json:"method"`
	URI         string                   `json:"uri"`
	QueryString map[string]FunctionValue `json:"querystring"`
	Headers     map[string]FunctionValue `json:"headers"`
	Cookies     map[string]FunctionValue `json:"cookies"`
}

// FunctionValue is one query string parameter, header or cookie.
type FunctionValue struct {
	Value      string          `json:"value"`
	MultiValue []FunctionValue `json:"multiValue,omitempty"`
}

// Values lists every value: multiValue when present, else value.
func (v FunctionValue) Values() []string {
	if len(v.MultiValue) == 0 {
		return []string{v.Value}
	}
	out := make([]string, len(v.MultiValue))
	for i, m := range v.MultiValue {
		out[i] = m.Value
	}
	return out
}

// NewFunctionValue is values as the event spells them.
func NewFunctionValue(values []string) FunctionValue {
	v := FunctionValue{Value: values[0]}
	if len(values) > 1 {
		for _, s := range values {
			v.MultiValue = append(v.MultiValue, FunctionValue{Value: s})
		}
	}
	return v
}
