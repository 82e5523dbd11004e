package stacks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/backtoorigin/backtoorigin/internal/contract"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
	"github.com/backtoorigin/backtoorigin/stacks"
)

var testOutdirs string

func TestMain(m *testing.M) {
	var err error
	if testOutdirs, err = os.MkdirTemp("", "stacks-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(testOutdirs)
	os.Exit(code)
}

// synthesized is one app synthesized with a given context, as `cdk synth` would.
type synthesized struct {
	app      *stacks.App
	main     assertions.Template
	edge     assertions.Template
	mainJSON map[string]any
	edgeJSON map[string]any
	outdir   string
}

// synth builds both stacks with cdk-nag applied, the way main.go does.
func synth(t *testing.T, context map[string]string) *synthesized {
	t.Helper()
	cfg, err := stacks.ParseConfig(context, "", "eu-west-1")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.EdgeCodeDir = filepath.Join("..", "lambda", "edge")
	// The transfer binary is built by `make build`; its bytes do not matter to the template.
	cfg.TransferCodeDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.TransferCodeDir, "bootstrap"), []byte("placeholder for the template test"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: the default app outlives the test that first builds it.
	outdir, err := os.MkdirTemp(testOutdirs, "cdk-")
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	built, err := stacks.NewApp(app, cfg)
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	s := &synthesized{
		app:    built,
		main:   assertions.Template_FromStack(built.Main.Stack, nil),
		edge:   assertions.Template_FromStack(built.Edge.Stack, nil),
		outdir: outdir,
	}
	s.mainJSON = toMap(t, s.main.ToJSON())
	s.edgeJSON = toMap(t, s.edge.ToJSON())
	return s
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	defaultOnce sync.Once
	defaultApp  *synthesized
)

// defaults is synthesized once: each jsii synth costs seconds.
func defaults(t *testing.T) *synthesized {
	t.Helper()
	defaultOnce.Do(func() { defaultApp = synth(t, map[string]string{}) })
	if defaultApp == nil {
		t.Fatal("default synth failed")
	}
	return defaultApp
}

// deadLetterAlarm is the alarm on the dead-letter queue (the stack also alarms on source 403s).
func deadLetterAlarm(t *testing.T, tmpl map[string]any) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, r := range resources(t, tmpl, "AWS::CloudWatch::Alarm") {
		if p := properties(t, r); p["MetricName"] == "ApproximateNumberOfMessagesVisible" {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one alarm on the dead-letter queue, got %d", len(found))
	}
	return found[0]
}

func TestGCSBucketNameParameter(t *testing.T) {
	// GIVEN the default app WHEN synthesized
	s := defaults(t)
	param := at[map[string]any](t, s.mainJSON, "Parameters", "gcsBucketName")
	// THEN the parameter has a description and a pattern that accepts only GCS bucket names
	if d, _ := param["Description"].(string); d == "" {
		t.Error("gcsBucketName has no description")
	}
	pattern := regexp.MustCompile(at[string](t, param, "AllowedPattern"))
	for _, name := range []string{"my-bucket.v2", "abc", "a_b", strings.Repeat("a", 63)} {
		if !pattern.MatchString(name) {
			t.Errorf("pattern rejects valid bucket name %q", name)
		}
	}
	for _, name := range []string{"UPPER", "ab", "-x", "x-", "a b", "bucket/", strings.Repeat("a", 64), ""} {
		if pattern.MatchString(name) {
			t.Errorf("pattern accepts invalid bucket name %q", name)
		}
	}
}

func TestBucketIsPrivateEncryptedAndRetained(t *testing.T) {
	s := defaults(t)
	s.main.HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{
		"DeletionPolicy":      "Retain",
		"UpdateReplacePolicy": "Retain",
		"Properties": map[string]any{
			"PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
				map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
			}},
			"OwnershipControls": map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
			"LifecycleConfiguration": map[string]any{"Rules": []any{assertions.Match_ObjectLike(&map[string]any{
				"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 7},
				"Status":                         "Enabled",
			})}},
		},
	})
	s.main.ResourceCountIs(jsii.String("Custom::S3AutoDeleteObjects"), jsii.Number(0))

	policy := only(t, s.mainJSON, "AWS::S3::BucketPolicy")
	statements := at[[]any](t, policy, "PolicyDocument", "Statement")
	var deniesInsecure, cloudFrontReadsAndLists bool
	for _, st := range statements {
		st := at[map[string]any](t, st)
		cond, _ := json.Marshal(st["Condition"])
		if st["Effect"] == "Deny" && strings.Contains(string(cond), `"aws:SecureTransport":"false"`) {
			deniesInsecure = true
		}
		principal, _ := json.Marshal(st["Principal"])
		if strings.Contains(string(principal), "cloudfront.amazonaws.com") && strings.Contains(string(cond), "AWS:SourceArn") {
			actions := asStrings(st["Action"])
			if slices.Contains(actions, "s3:GetObject") || slices.Contains(actions, "s3:ListBucket") {
				cloudFrontReadsAndLists = cloudFrontReadsAndLists || slices.Contains(actions, "s3:ListBucket")
			}
		}
	}
	if !deniesInsecure {
		t.Error("bucket policy does not deny requests without TLS")
	}
	if !cloudFrontReadsAndLists {
		t.Error("bucket policy does not let this distribution (OAC) list the bucket, so a missing key would be 403")
	}
}

func TestAutoDeleteBucketForTestDeployments(t *testing.T) {
	// GIVEN context autoDeleteBucket=true, an alarm email and a private-source secret
	s := synth(t, map[string]string{"autoDeleteBucket": "true", "alarmEmail": "ops@example.com",
		"transferMaxConcurrency": "7", "sourceHmacSecret": "gcs-hmac"})
	// THEN the bucket is deleted with the stack, with its objects
	s.main.HasResource(jsii.String("AWS::S3::Bucket"), map[string]any{"DeletionPolicy": "Delete"})
	s.main.ResourceCountIs(jsii.String("Custom::S3AutoDeleteObjects"), jsii.Number(1))
	// AND the DLQ alarm notifies the email address
	s.main.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "ops@example.com"})
	alarm := deadLetterAlarm(t, s.mainJSON)
	if actions, _ := alarm["AlarmActions"].([]any); len(actions) != 1 {
		t.Errorf("alarm actions = %v, want the SNS topic", alarm["AlarmActions"])
	}
	// AND the concurrency cap comes from context
	s.main.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
		"ScalingConfig": map[string]any{"MaximumConcurrency": 7},
	})
	// AND the function may read that secret, and knows where it is
	statements := transferStatements(t, s.mainJSON)
	var readsSecret bool
	for _, st := range statements {
		if slices.Contains(asStrings(st["Action"]), "secretsmanager:GetSecretValue") {
			readsSecret = true
			if res, _ := json.Marshal(st["Resource"]); !strings.Contains(string(res), "secret:gcs-hmac") {
				t.Errorf("secret grant covers %s, want only gcs-hmac", res)
			}
		}
	}
	if !readsSecret {
		t.Error("transfer function cannot read the HMAC secret")
	}
	if cfg, _ := transferEnvironment(t, s.mainJSON); cfg.SourceHMACSecretARN == "" {
		t.Errorf("%s not set", transferlambda.EnvSourceHMACSecretARN)
	}
	assertNoNagErrors(t, s)
}

func TestDistributionFailsOverFromS3ToGCS(t *testing.T) {
	s := defaults(t)
	dist := distributionConfig(t, s)

	if dist["DefaultRootObject"] == nil {
		t.Error("no default root object: a request for / would list the bucket")
	}
	if dist["HttpVersion"] != "http2and3" {
		t.Errorf("HttpVersion = %v", dist["HttpVersion"])
	}
	groups := at[map[string]any](t, dist, "OriginGroups")
	if groups["Quantity"] != float64(1) {
		t.Fatalf("origin groups = %v", groups)
	}
	group := at[map[string]any](t, groups, "Items", 0)
	codes := at[[]any](t, group, "FailoverCriteria", "StatusCodes", "Items")
	if !slices.Equal(codes, []any{float64(403), float64(404)}) {
		t.Errorf("failover status codes = %v, want [403 404]", codes)
	}
	members := at[[]any](t, group, "Members", "Items")
	if len(members) != 2 {
		t.Fatalf("origin group members = %v", members)
	}
	originsByID := map[string]map[string]any{}
	for _, o := range at[[]any](t, dist, "Origins") {
		o := at[map[string]any](t, o)
		originsByID[at[string](t, o, "Id")] = o
	}
	primary := originsByID[at[string](t, members, 0, "OriginId")]
	secondary := originsByID[at[string](t, members, 1, "OriginId")]
	if primary == nil || secondary == nil {
		t.Fatalf("origin group members %v are not both origins of the distribution", members)
	}

	// Primary: the bucket through OAC, no OAI.
	if primary["OriginAccessControlId"] == nil {
		t.Error("primary origin has no Origin Access Control")
	}
	if oai := at[any](t, primary, "S3OriginConfig", "OriginAccessIdentity"); oai != "" {
		t.Errorf("primary origin uses an OAI: %v", oai)
	}
	// Secondary: GCS over HTTPS only, path /<gcsBucketName>.
	if secondary["DomainName"] != "storage.googleapis.com" {
		t.Errorf("secondary origin = %v", secondary["DomainName"])
	}
	custom := at[map[string]any](t, secondary, "CustomOriginConfig")
	if custom["OriginProtocolPolicy"] != "https-only" {
		t.Errorf("GCS origin protocol = %v", custom["OriginProtocolPolicy"])
	}
	if path := jsonOf(secondary["OriginPath"]); path != `{"Fn::Join":["",["/",{"Ref":"gcsBucketName"}]]}` {
		t.Errorf("GCS origin path = %s", path)
	}
	for name, o := range map[string]map[string]any{"S3": primary, "GCS": secondary} {
		shield := at[map[string]any](t, o, "OriginShield")
		if shield["Enabled"] != true || shield["OriginShieldRegion"] != "eu-west-1" {
			t.Errorf("%s origin shield = %v, want enabled in the stack's region eu-west-1", name, shield)
		}
	}

	behavior := at[map[string]any](t, dist, "DefaultCacheBehavior")
	if behavior["TargetOriginId"] != group["Id"] {
		t.Errorf("default behavior targets %v, not the origin group", behavior["TargetOriginId"])
	}
	if behavior["ViewerProtocolPolicy"] != "redirect-to-https" || behavior["Compress"] != true {
		t.Errorf("behavior = %v", behavior)
	}
	if methods := asStrings(behavior["AllowedMethods"]); !slices.Equal(methods, []string{"GET", "HEAD", "OPTIONS"}) {
		t.Errorf("allowed methods = %v", methods)
	}
	assocs := at[[]any](t, behavior, "LambdaFunctionAssociations")
	if event, _ := lookup[string](assocs, 0, "EventType"); len(assocs) != 1 || event != "origin-response" {
		t.Errorf("edge associations = %v", assocs)
	}

	ttls := map[float64]float64{}
	for _, e := range at[[]any](t, dist, "CustomErrorResponses") {
		ttls[at[float64](t, e, "ErrorCode")] = at[float64](t, e, "ErrorCachingMinTTL")
	}
	for _, code := range []float64{403, 404} {
		if ttl, ok := ttls[code]; !ok || ttl > 10 {
			t.Errorf("error caching TTL for %v = %v (present %v), want <= 10 s", code, ttl, ok)
		}
	}

	s.main.HasResourceProperties(jsii.String("AWS::CloudFront::CachePolicy"), map[string]any{
		"CachePolicyConfig": assertions.Match_ObjectLike(&map[string]any{
			"ParametersInCacheKeyAndForwardedToOrigin": assertions.Match_ObjectLike(&map[string]any{
				"QueryStringsConfig": map[string]any{"QueryStringBehavior": "none"},
				"HeadersConfig":      map[string]any{"HeaderBehavior": "none"},
				"CookiesConfig":      map[string]any{"CookieBehavior": "none"},
			}),
		}),
	})
	s.main.HasResourceProperties(jsii.String("AWS::CloudFront::OriginAccessControl"), map[string]any{
		"OriginAccessControlConfig": assertions.Match_ObjectLike(&map[string]any{
			"OriginAccessControlOriginType": "s3", "SigningBehavior": "always",
		}),
	})
}

func TestViewerRequestFunctionInlinesTheFileAndRunsOnEveryViewerRequest(t *testing.T) {
	s := defaults(t)
	source, err := os.ReadFile(filepath.Join("..", "lambda", "viewer-request", "index.js"))
	if err != nil {
		t.Fatal(err)
	}
	functions := resources(t, s.mainJSON, "AWS::CloudFront::Function")
	if len(functions) != 1 {
		t.Fatalf("want exactly one CloudFront Function, got %d", len(functions))
	}
	var functionID string
	for id, f := range functions {
		functionID = id
		props := properties(t, f)
		if props["FunctionCode"] != string(source) {
			t.Errorf("function code is not lambda/viewer-request/index.js as it is on disk:\n%v", props["FunctionCode"])
		}
		if runtime := at[any](t, props, "FunctionConfig", "Runtime"); runtime != "cloudfront-js-2.0" {
			t.Errorf("function runtime = %v, want cloudfront-js-2.0", runtime)
		}
		if props["AutoPublish"] != true {
			t.Errorf("AutoPublish = %v: an unpublished function cannot be associated", props["AutoPublish"])
		}
	}

	behavior := at[map[string]any](t, distributionConfig(t, s), "DefaultCacheBehavior")
	assocs, _ := behavior["FunctionAssociations"].([]any)
	if len(assocs) != 1 {
		t.Fatalf("function associations = %v, want one", behavior["FunctionAssociations"])
	}
	assoc := at[map[string]any](t, assocs, 0)
	if assoc["EventType"] != "viewer-request" {
		t.Errorf("function event type = %v, want viewer-request", assoc["EventType"])
	}
	if arn, want := jsonOf(assoc["FunctionARN"]), `{"Fn::GetAtt":["`+functionID+`","FunctionARN"]}`; arn != want {
		t.Errorf("associated function = %s, want %s", arn, want)
	}
}

// originShields maps each origin's domain (or "s3" for the bucket) to its Origin Shield region.
func originShields(t *testing.T, s *synthesized) map[string]any {
	t.Helper()
	shields := map[string]any{}
	for _, o := range at[[]any](t, distributionConfig(t, s), "Origins") {
		o := at[map[string]any](t, o)
		name, _ := o["DomainName"].(string)
		if _, ok := o["S3OriginConfig"]; ok {
			name = "s3"
		}
		shields[name] = at[any](t, o, "OriginShield", "OriginShieldRegion")
	}
	return shields
}

func TestOriginShieldRegionsFromContext(t *testing.T) {
	// GIVEN the S3 origin's Origin Shield set, and the GCS bucket's location
	s := synth(t, map[string]string{"originShieldRegion": "us-east-2", "sourceLocation": "europe-west4"})
	// THEN each origin's Origin Shield is near that origin
	if got := originShields(t, s); got["s3"] != "us-east-2" || got["storage.googleapis.com"] != "eu-central-1" {
		t.Errorf("origin shields = %v, want s3 in us-east-2 and GCS (europe-west4, Netherlands) in eu-central-1", got)
	}
	// AND synth does not warn about the source's Origin Shield
	assertions.Annotations_FromStack(s.app.Main.Stack).HasNoWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("Origin Shield")))
}

func TestSourceOriginShieldWithoutASettingWarns(t *testing.T) {
	s := defaults(t)
	if got := originShields(t, s); got["storage.googleapis.com"] != "eu-west-1" {
		t.Errorf("origin shields = %v, want the GCS origin's in the stack's region by default", got)
	}
	assertions.Annotations_FromStack(s.app.Main.Stack).HasWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("-c sourceLocation=.*-c sourceOriginShieldRegion=")))
}

func TestTransferQueues(t *testing.T) {
	s := defaults(t)
	queues := resources(t, s.mainJSON, "AWS::SQS::Queue")
	if len(queues) != 2 {
		t.Fatalf("want 2 queues, got %d", len(queues))
	}
	var transfer, dlq map[string]any
	for _, q := range queues {
		p := properties(t, q)
		if p["RedrivePolicy"] != nil {
			transfer = p
		} else {
			dlq = p
		}
	}
	if transfer == nil || dlq == nil {
		t.Fatal("no queue with a redrive policy")
	}
	for name, q := range map[string]map[string]any{"transfer": transfer, "dead-letter": dlq} {
		if q["FifoQueue"] != true || q["SqsManagedSseEnabled"] != true {
			t.Errorf("%s queue is not an encrypted FIFO queue: %v", name, q)
		}
	}
	// The edge stack sends to the queue by this name.
	if want := contract.TransferQueueName(stacks.MainStackName); transfer["QueueName"] != want || s.app.TransferQueueName != want {
		t.Errorf("queue name = %v (app: %s), want %s", transfer["QueueName"], s.app.TransferQueueName, want)
	}
	if transfer["DeduplicationScope"] != "messageGroup" || transfer["FifoThroughputLimit"] != "perMessageGroupId" {
		t.Errorf("transfer queue is not in high-throughput mode: %v", transfer)
	}
	if dlq["MessageRetentionPeriod"] != float64(14*24*3600) {
		t.Errorf("DLQ retention = %v, want 14 days", dlq["MessageRetentionPeriod"])
	}
	// The local harness redrives after contract.MaxReceiveCount receives too.
	if n := at[float64](t, transfer, "RedrivePolicy", "maxReceiveCount"); n < 2 || n > 10 || n != contract.MaxReceiveCount {
		t.Errorf("maxReceiveCount = %v, want %d", n, contract.MaxReceiveCount)
	}
	fn := transferFunction(t, s.mainJSON)
	if vt, timeout := at[float64](t, transfer, "VisibilityTimeout"), at[float64](t, fn, "Timeout"); vt < 6*timeout {
		t.Errorf("visibility timeout %v s < 6 x function timeout %v s", vt, timeout)
	}
	// Both queues refuse requests without TLS.
	policies := resources(t, s.mainJSON, "AWS::SQS::QueuePolicy")
	if len(policies) != 2 {
		t.Errorf("want a TLS-only policy on both queues, got %d policies", len(policies))
	}
	for _, p := range policies {
		if doc := jsonOf(at[any](t, properties(t, p), "PolicyDocument")); !strings.Contains(doc, `"aws:SecureTransport":"false"`) {
			t.Errorf("queue policy does not deny insecure transport: %s", doc)
		}
	}
	alarm := deadLetterAlarm(t, s.mainJSON)
	if alarm["MetricName"] != "ApproximateNumberOfMessagesVisible" || alarm["Threshold"] != float64(1) {
		t.Errorf("DLQ alarm = %v", alarm)
	}
}

func TestTransferFunction(t *testing.T) {
	s := defaults(t)
	fn := transferFunction(t, s.mainJSON)
	if fn["Handler"] != "bootstrap" || !slices.Equal(asStrings(fn["Architectures"]), []string{"arm64"}) {
		t.Errorf("function = %v", fn)
	}
	memory, timeout := at[float64](t, fn, "MemorySize"), at[float64](t, fn, "Timeout")
	if memory < 512 || timeout < 60 {
		t.Errorf("memory %v MB / timeout %v s too small for copying", memory, timeout)
	}
	// The harness runs the function with the same memory and the engine's work window is
	// derived from the same timeout.
	if memory != contract.FunctionMemoryMiB || timeout != contract.FunctionTimeout.Seconds() {
		t.Errorf("memory %v MB / timeout %v s, want contract's %d MB / %v", memory, timeout, contract.FunctionMemoryMiB, contract.FunctionTimeout)
	}
	if format := at[any](t, fn, "LoggingConfig", "LogFormat"); format != "JSON" {
		t.Errorf("logging = %v", fn["LoggingConfig"])
	}
	s.main.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": assertions.Match_AnyValue()})
	// Every required variable is set (the function's init accepts the environment), every
	// default is written out, and the source bucket is the parameter.
	cfg, env := transferEnvironment(t, s.mainJSON)
	if cfg.SourceBucket != `{"Ref":"gcsBucketName"}` {
		t.Errorf("%s = %s", transferlambda.EnvSourceBucket, cfg.SourceBucket)
	}
	for _, name := range []string{transferlambda.EnvDestinationBucket, transferlambda.EnvSourceBucket, transferlambda.EnvSourceEndpoint, transferlambda.EnvQueueURL, transferlambda.EnvDeadLetterQueueURL} {
		if env[name] == "" {
			t.Errorf("environment lacks %s", name)
		}
	}
	if cfg.PartSizeMiB != contract.PartSizeMiB || cfg.PartConcurrency != contract.PartConcurrency || cfg.BatchConcurrency != contract.BatchConcurrency {
		t.Errorf("copy settings %d MiB x %d, %d records at once; want contract's defaults", cfg.PartSizeMiB, cfg.PartConcurrency, cfg.BatchConcurrency)
	}
	s.main.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
		"BatchSize":             contract.BatchSize,
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
		"ScalingConfig":         map[string]any{"MaximumConcurrency": 50},
	})
}

func TestTransferFunctionLeastPrivilege(t *testing.T) {
	s := defaults(t)
	var actions []string
	for _, st := range transferStatements(t, s.mainJSON) {
		if st["Effect"] != "Allow" {
			continue
		}
		res, _ := json.Marshal(st["Resource"])
		if string(res) == `"*"` {
			t.Errorf("statement on every resource: %v", st)
		}
		for _, a := range asStrings(st["Action"]) {
			actions = append(actions, a)
			if strings.HasPrefix(a, "s3:") && !strings.Contains(string(res), "Bucket") {
				t.Errorf("%s on %s, not on its bucket", a, res)
			}
			if strings.HasPrefix(a, "sqs:") && !strings.Contains(string(res), "Queue") {
				t.Errorf("%s on %s, not on its queues", a, res)
			}
		}
	}
	for _, a := range actions {
		if strings.Contains(a, "Delete") && a != "sqs:DeleteMessage" || strings.HasSuffix(a, "*") {
			t.Errorf("transfer function may %s", a)
		}
	}
	for _, want := range []string{"s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"} {
		if !slices.Contains(actions, want) {
			t.Errorf("transfer function lacks %s", want)
		}
	}
}

func TestOutputs(t *testing.T) {
	s := defaults(t)
	outputs := at[map[string]any](t, s.mainJSON, "Outputs")
	for _, name := range []string{"DistributionDomainName", "DistributionId", "BucketName", "TransferQueueUrl", "DeadLetterQueueUrl"} {
		if _, ok := outputs[name]; !ok {
			t.Errorf("output %s missing", name)
		}
	}
}

func TestEdgeStack(t *testing.T) {
	s := defaults(t)
	if region := *s.app.Edge.Region(); region != "us-east-1" {
		t.Errorf("edge stack region = %s", region)
	}
	fn := edgeFunction(t, s.edgeJSON)
	if timeout, _ := lookup[float64](fn, "Timeout"); fn["Runtime"] != "nodejs22.x" || fn["MemorySize"] != float64(128) || timeout == 0 || timeout > 30 {
		t.Errorf("edge function = %v", fn)
	}
	if arch := asStrings(fn["Architectures"]); len(arch) > 0 && !slices.Equal(arch, []string{"x86_64"}) {
		t.Errorf("edge architectures = %v", arch)
	}
	if fn["Environment"] != nil {
		t.Error("Lambda@Edge cannot have environment variables")
	}
	s.edge.ResourceCountIs(jsii.String("AWS::Lambda::Version"), jsii.Number(1))
	var trusted []string
	for _, st := range at[[]any](t, s.edgeJSON, "Resources", roleID(t, fn), "Properties", "AssumeRolePolicyDocument", "Statement") {
		trusted = append(trusted, asStrings(at[any](t, st, "Principal", "Service"))...)
	}
	slices.Sort(trusted)
	if !slices.Equal(trusted, []string{"edgelambda.amazonaws.com", "lambda.amazonaws.com"}) {
		t.Errorf("edge role trusts %v", trusted)
	}
	// The edge may only send to the transfer queue (and write its own logs).
	var sends []string
	for _, p := range resources(t, s.edgeJSON, "AWS::IAM::Policy") {
		for _, st := range at[[]any](t, p, "Properties", "PolicyDocument", "Statement") {
			st := at[map[string]any](t, st)
			for _, a := range asStrings(st["Action"]) {
				res := jsonOf(st["Resource"])
				switch {
				case strings.HasPrefix(a, "logs:"):
				case a == "sqs:SendMessage":
					sends = append(sends, res)
				default:
					t.Errorf("edge role may %s on %s", a, res)
				}
			}
		}
	}
	if len(sends) != 1 || !strings.Contains(sends[0], ":sqs:eu-west-1:") || !strings.Contains(sends[0], ":BackToOrigin-transfer.fifo") {
		t.Errorf("edge SendMessage resources = %v, want the transfer queue in eu-west-1", sends)
	}
}

func TestEdgeBundleHasBakedSettingsAndNoSecrets(t *testing.T) {
	s := synth(t, map[string]string{"includePrefixes": "img/,video/", "excludeSuffixes": `[".tmp"]`})
	fn := edgeFunction(t, s.edgeJSON)
	key := at[string](t, fn, "Code", "S3Key")
	hash := strings.TrimSuffix(key, ".zip")
	// The asset is staged under the app's outdir as asset.<hash>.
	dir := filepath.Join(s.outdir, "asset."+hash)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("edge bundle: %v", err)
	}
	var names []string
	var size int64
	for _, e := range entries {
		names = append(names, e.Name())
		info, _ := e.Info()
		size += info.Size()
	}
	if !slices.Equal(names, []string{"index.mjs", "settings.mjs"}) {
		t.Errorf("bundle holds %v, want only index.mjs and settings.mjs", names)
	}
	if size > 20*1024 {
		t.Errorf("bundle is %d bytes, want under 20 KB", size)
	}
	settings, err := os.ReadFile(filepath.Join(dir, "settings.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSettingsModule[stacks.EdgeSettings](settings)
	if err != nil {
		t.Fatalf("settings.mjs is not `export default <json>`: %v\n%s", err, settings)
	}
	want := stacks.EdgeSettings{QueueName: "BackToOrigin-transfer.fifo", QueueRegion: "eu-west-1", SourceDomainName: "storage.googleapis.com",
		IncludePrefixes: []string{"img/", "video/"}, ExcludeSuffixes: []string{".tmp"}}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("baked settings = %s, want %s", gotJSON, wantJSON)
	}
	if regexp.MustCompile(`\d{12}`).Match(settings) {
		t.Errorf("settings carry an account id: %s", settings)
	}
	// Nothing reaches GCS but the request: no custom origin headers.
	for _, o := range at[[]any](t, distributionConfig(t, s), "Origins") {
		if h := at[map[string]any](t, o)["OriginCustomHeaders"]; h != nil {
			t.Errorf("origin custom headers %v would be sent to the origin", h)
		}
	}
}

func TestNoUnsuppressedNagErrors(t *testing.T) {
	assertNoNagErrors(t, defaults(t))
}

func assertNoNagErrors(t *testing.T, s *synthesized) {
	t.Helper()
	for name, stack := range map[string]awscdk.Stack{"main": s.app.Main.Stack, "edge": s.app.Edge.Stack} {
		for _, kind := range []string{"error", "warning"} {
			var found *[]*cxapi.SynthesisMessage
			if kind == "error" {
				found = assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			} else {
				found = assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
			}
			for _, m := range *found {
				t.Errorf("%s stack: unsuppressed cdk-nag %s at %s: %v", name, kind, *m.Id, m.Entry.Data)
			}
		}
	}
}

func transferFunction(t *testing.T, tmpl map[string]any) map[string]any {
	t.Helper()
	for _, r := range resources(t, tmpl, "AWS::Lambda::Function") {
		p := properties(t, r)
		if p["Runtime"] == "provided.al2023" {
			return p
		}
	}
	t.Fatal("no provided.al2023 function")
	return nil
}

// edgeFunction is the origin-response handler (the edge stack also holds CDK's cross-region
// reference writer).
func edgeFunction(t *testing.T, tmpl map[string]any) map[string]any {
	t.Helper()
	for _, r := range resources(t, tmpl, "AWS::Lambda::Function") {
		p := properties(t, r)
		if description, _ := p["Description"].(string); p["Handler"] == "index.handler" && strings.Contains(description, "GCS") {
			return p
		}
	}
	t.Fatal("no origin-response function in the edge stack")
	return nil
}

// transferStatements returns the statements of every policy attached to the transfer role.
func transferStatements(t *testing.T, tmpl map[string]any) []map[string]any {
	t.Helper()
	role := roleID(t, transferFunction(t, tmpl))
	var out []map[string]any
	for _, p := range resources(t, tmpl, "AWS::IAM::Policy") {
		props := properties(t, p)
		if !strings.Contains(jsonOf(props["Roles"]), `"`+role+`"`) {
			continue
		}
		for _, st := range at[[]any](t, props, "PolicyDocument", "Statement") {
			out = append(out, at[map[string]any](t, st))
		}
	}
	if len(out) == 0 {
		t.Fatal("no policy on the transfer role")
	}
	return out
}

// roleID is the logical id of a function's role.
func roleID(t *testing.T, fn map[string]any) string {
	t.Helper()
	m := regexp.MustCompile(`"Fn::GetAtt":\["([^"]+)"`).FindStringSubmatch(jsonOf(fn["Role"]))
	if m == nil {
		t.Fatalf("function role %s is not a role of the stack", jsonOf(fn["Role"]))
	}
	return m[1]
}

// parseSettingsModule reads a settings module written as `export default <json>;`.
func parseSettingsModule[T any](module []byte) (T, error) {
	var got T
	text := string(module)
	i := strings.Index(text, "{")
	if i < 0 {
		return got, fmt.Errorf("no object in %q", text)
	}
	err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimSpace(text[i:]), ";")), &got)
	return got, err
}

// IAM, not only the code, keeps the function from overwriting: every way it may s3:PutObject
// (which covers CompleteMultipartUpload) needs If-None-Match or If-Match, except the multipart
// creation and part uploads that s3:ObjectCreationOperation=false exempts.
func TestTransferFunctionMayOnlyWriteConditionally(t *testing.T) {
	s := defaults(t)
	var conditions []string
	for _, st := range transferStatements(t, s.mainJSON) {
		if st["Effect"] != "Allow" || !slices.Contains(asStrings(st["Action"]), "s3:PutObject") {
			continue
		}
		if len(asStrings(st["Action"])) != 1 {
			t.Errorf("s3:PutObject shares a statement with %v: its condition would bind them too", st["Action"])
		}
		conditions = append(conditions, jsonOf(st["Condition"]))
	}
	slices.Sort(conditions)
	want := []string{
		`{"Bool":{"s3:ObjectCreationOperation":"false"}}`,
		`{"Null":{"s3:if-match":"false"}}`,
		`{"Null":{"s3:if-none-match":"false"}}`,
	}
	if !slices.Equal(conditions, want) {
		t.Errorf("s3:PutObject statements have conditions %v, want exactly %v", conditions, want)
	}
	var listsUploads bool
	for _, st := range transferStatements(t, s.mainJSON) {
		listsUploads = listsUploads || slices.Contains(asStrings(st["Action"]), "s3:ListBucketMultipartUploads")
	}
	if !listsUploads {
		t.Error("the function cannot list open uploads, so it cannot join one")
	}
}

func TestTransferFunctionGetsTheEdgeKeyRules(t *testing.T) {
	include, exclude := transferlambda.EnvIncludePrefixes, transferlambda.EnvExcludeSuffixes
	cfg, got := transferEnvironment(t, synth(t, map[string]string{"includePrefixes": "img/,video/", "excludeSuffixes": `[".tmp"]`}).mainJSON)
	if got[include] != `["img/","video/"]` || got[exclude] != `[".tmp"]` {
		t.Errorf("key rules in the environment: %v %v", got[include], got[exclude])
	}
	if !cfg.Rules.Allows("img/a.png") || cfg.Rules.Allows("img/a.tmp") || cfg.Rules.Allows("css/a.css") {
		t.Errorf("the function reads the key rules as %+v", cfg.Rules)
	}
	_, got = transferEnvironment(t, defaults(t).mainJSON)
	if got[include] != `[]` || got[exclude] != `[]` {
		t.Errorf("no rules: %v %v, want empty arrays", got[include], got[exclude])
	}
}

func TestSourceForbiddenRateIsAlarmed(t *testing.T) {
	s := synth(t, map[string]string{"alarmEmail": "ops@example.com"})
	s.main.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"Namespace":          "BackToOrigin",
		"MetricName":         "SourceForbidden",
		"Statistic":          "Sum",
		"Period":             300,
		"Threshold":          10,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold",
		"AlarmActions":       assertions.Match_AnyValue(),
	})
}
