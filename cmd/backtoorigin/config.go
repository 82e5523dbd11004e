package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/backtoorigin/backtoorigin/internal/migrate"
	"github.com/backtoorigin/backtoorigin/internal/sourceendpoint"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

// Environment variables holding a GCS HMAC key (never flags: argv shows in
// process listings).
const (
	envHMACKeyID  = "GCS_HMAC_ACCESS_KEY_ID"
	envHMACSecret = "GCS_HMAC_SECRET"
)

// target is what a command works on, from the stack's outputs or flags.
type target struct {
	stack, region                          string
	bucket, queueURL, dlqURL, distribution string
	sourceBucket, sourceEndpoint           string
	sourceRegion                           string
	includePrefixes, excludeSuffixes       []string // the deployment's key rules (stack outputs)
	pageSize, ranges                       int
	json                                   bool
}

func (t *target) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.stack, "stack", "BackToOrigin", "the deployed main stack, read with CloudFormation DescribeStacks")
	fs.StringVar(&t.region, "region", "", "AWS region of the stack (default: AWS_REGION or the profile's)")
	fs.StringVar(&t.bucket, "bucket", "", "S3 bucket (default: the stack's BucketName output)")
	fs.StringVar(&t.queueURL, "queue-url", "", "transfer queue URL (default: the stack's TransferQueueUrl output)")
	fs.StringVar(&t.dlqURL, "dlq-url", "", "dead-letter queue URL (default: the stack's DeadLetterQueueUrl output)")
	fs.StringVar(&t.sourceBucket, "source-bucket", "", "GCS bucket (default: the stack's gcsBucketName parameter)")
	fs.StringVar(&t.sourceEndpoint, "source-endpoint", "", "source XML API endpoint: GCS, or any S3-compatible store (default: the stack's SourceEndpoint output, else "+transfer.DefaultSourceEndpoint+")")
	fs.StringVar(&t.sourceRegion, "source-region", "", "SigV4 region for a source read with an HMAC key ("+envHMACKeyID+", "+envHMACSecret+") (default: the stack's SourceRegion output, else auto)")
	fs.IntVar(&t.pageSize, "page-size", migrate.DefaultPageSize, "keys per listing call")
	fs.IntVar(&t.ranges, "ranges", migrate.DefaultRanges, "key ranges per prefix, listed in parallel")
	fs.BoolVar(&t.json, "json", false, "print the result as JSON")
}

// clients are the AWS and source clients a command uses.
type clients struct {
	s3         *s3.Client
	sqs        *sqs.Client
	cloudwatch *cloudwatch.Client
	config     aws.Config
	source     *transfer.Source
	lister     *migrate.XMLLister
}

// errNoCredentials: the SDK's default chain found no credentials.
var errNoCredentials = errors.New("no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`")

// resolve fills in what the flags left out from the stack, checks that
// there are credentials, and builds the clients. need names the settings
// the command cannot do without.
func (t *target) resolve(ctx context.Context, need ...string) (*clients, error) {
	var opts []func(*config.LoadOptions) error
	if t.region != "" {
		opts = append(opts, config.WithRegion(t.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, badInput("AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		return nil, badInput("no AWS region: pass --region or set AWS_REGION")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, usageError{fmt.Errorf("%w (%v)", errNoCredentials, err)}
	}
	missing := func() []string {
		var out []string
		for _, n := range need {
			if n == "bucket" && t.bucket == "" || n == "queue" && t.queueURL == "" || n == "dlq" && t.dlqURL == "" || n == "source" && t.sourceBucket == "" {
				out = append(out, n)
			}
		}
		return out
	}
	if len(missing()) > 0 {
		if err := t.fromStack(ctx, cloudformation.NewFromConfig(cfg)); err != nil {
			return nil, err
		}
		if m := missing(); len(m) > 0 {
			return nil, badInput("stack %s does not say %s: pass them as flags", t.stack, strings.Join(m, ", "))
		}
	}
	if t.sourceEndpoint == "" {
		t.sourceEndpoint = transfer.DefaultSourceEndpoint
	}
	if t.sourceRegion == "" {
		t.sourceRegion = sourceendpoint.DefaultRegion
	}
	// Every range lists both sides at once, so keep a connection per range
	// open on each: with the default transports' idle limits (2 per host
	// in net/http, 10 in the SDK) the other ranges' pages each opened a
	// connection of their own, a TCP and a TLS handshake per page.
	idle := max(t.ranges, migrate.DefaultRanges)
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		cfg.HTTPClient = bc.WithTransportOptions(func(tr *http.Transport) { tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, idle) })
	}
	c := &clients{
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			// Stand-ins and most S3-compatible servers have no per-bucket DNS.
			o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
		}),
		sqs:        sqs.NewFromConfig(cfg),
		cloudwatch: cloudwatch.NewFromConfig(cfg),
		config:     cfg,
	}
	var sourceCreds aws.CredentialsProvider
	if id, secret := os.Getenv(envHMACKeyID), os.Getenv(envHMACSecret); id != "" || secret != "" {
		if id == "" || secret == "" {
			return nil, badInput("set both %s and %s, or neither", envHMACKeyID, envHMACSecret)
		}
		sourceCreds = credentials.NewStaticCredentialsProvider(id, secret, "")
	}
	c.source = &transfer.Source{Endpoint: t.sourceEndpoint, Bucket: t.sourceBucket, Credentials: sourceCreds, Region: t.sourceRegion, HTTP: transfer.NewSourceHTTPClient()}
	listing := http.DefaultTransport.(*http.Transport).Clone()
	listing.MaxIdleConnsPerHost = idle
	c.lister = &migrate.XMLLister{Endpoint: t.sourceEndpoint, Bucket: t.sourceBucket, Credentials: sourceCreds, Region: t.sourceRegion, HTTP: &http.Client{Transport: listing}}
	return c, nil
}

// fromStack reads the stack's outputs and its gcsBucketName parameter.
func (t *target) fromStack(ctx context.Context, cf *cloudformation.Client) error {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &t.stack})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
			return badInput("stack %q does not exist in %s (deploy it with `make deploy`, or pass --stack, --region, or --bucket/--queue-url/--source-bucket)", t.stack, cf.Options().Region)
		}
		return fmt.Errorf("describe stack %s: %w", t.stack, err)
	}
	if len(out.Stacks) == 0 {
		return badInput("stack %q not found", t.stack)
	}
	st := out.Stacks[0]
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	for _, o := range st.Outputs {
		v := aws.ToString(o.OutputValue)
		switch aws.ToString(o.OutputKey) {
		case "BucketName":
			set(&t.bucket, v)
		case "TransferQueueUrl":
			set(&t.queueURL, v)
		case "DeadLetterQueueUrl":
			set(&t.dlqURL, v)
		case "DistributionId":
			set(&t.distribution, v)
		case "SourceEndpoint":
			set(&t.sourceEndpoint, v)
		case "SourceRegion":
			set(&t.sourceRegion, v)
		case "IncludePrefixes", "ExcludeSuffixes":
			list := &t.includePrefixes
			if aws.ToString(o.OutputKey) == "ExcludeSuffixes" {
				list = &t.excludeSuffixes
			}
			if err := json.Unmarshal([]byte(v), list); err != nil {
				return fmt.Errorf("stack %s: output %s=%q: want a JSON array of strings: %w", t.stack, aws.ToString(o.OutputKey), v, err)
			}
		}
	}
	for _, p := range st.Parameters {
		if aws.ToString(p.ParameterKey) == "gcsBucketName" {
			set(&t.sourceBucket, aws.ToString(p.ParameterValue))
		}
	}
	return nil
}

func (t *target) sides(c *clients) *migrate.Sides {
	rules := transferlambda.KeyRules{IncludePrefixes: t.includePrefixes, ExcludeSuffixes: t.excludeSuffixes}
	return &migrate.Sides{Source: c.lister, SourceHead: c.source, Dest: c.s3, Bucket: t.bucket, PageSize: t.pageSize, Copies: rules.Allows}
}

// inputError turns the migration's bad-input errors into exit status 2.
func inputError(err error) error {
	switch {
	case errors.Is(err, migrate.ErrPrefixEmpty), errors.Is(err, migrate.ErrBadPrefixes),
		errors.Is(err, migrate.ErrNoQueue), errors.Is(err, migrate.ErrCheckpointMismatch):
		return usageError{err}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
		return usageError{err}
	}
	var se *migrate.StatusError
	if errors.As(err, &se) && (se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusForbidden) {
		return usageError{err}
	}
	return err
}

// queueError names a queue that does not exist as such.
func queueError(err error) error {
	var missing *sqstypes.QueueDoesNotExist
	if errors.As(err, &missing) || strings.Contains(err.Error(), "NonExistentQueue") {
		return fmt.Errorf("%w: %v", migrate.ErrNoQueue, err)
	}
	return err
}
