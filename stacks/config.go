package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/backtoorigin/backtoorigin/internal/contract"
	"github.com/backtoorigin/backtoorigin/internal/sourceendpoint"
)

// The stack names are part of the interface (contract.MainStackName).
const (
	MainStackName = contract.MainStackName
	EdgeStackName = contract.EdgeStackName
	// EdgeRegion is where Lambda@Edge functions must live.
	EdgeRegion = "us-east-1"
)

// nearestOriginShield maps regions without Origin Shield to the Origin Shield region AWS
// recommends for origins there, so the default works wherever the stack is deployed.
var nearestOriginShield = map[string]string{
	"us-west-1":      "us-west-2",
	"ca-central-1":   "us-east-1",
	"eu-west-3":      "eu-west-2",
	"eu-north-1":     "eu-west-2",
	"eu-south-1":     "eu-central-1",
	"eu-central-2":   "eu-central-1",
	"af-south-1":     "eu-west-1",
	"me-south-1":     "ap-south-1",
	"ap-east-1":      "ap-southeast-1",
	"ap-northeast-3": "ap-northeast-1",
	"ap-southeast-3": "ap-southeast-1",
}

// Config is everything the app reads from context and the environment, read once in main.
type Config struct {
	// Account is empty when the app is synthesized without credentials (environment-agnostic).
	Account string
	Region  string
	// RegionDefaulted is true when neither context nor CDK_DEFAULT_REGION named a region.
	RegionDefaulted bool
	// OriginShieldRegion shields the S3 origin, which is in the stack's region.
	OriginShieldRegion string
	// SourceOriginShieldRegion shields the source (GCS) origin: AWS advises the Origin Shield
	// region with the lowest latency to the origin, so it follows the source's location.
	SourceOriginShieldRegion string
	// SourceOriginShieldDefaulted is true when no setting placed it near the source: it is then
	// OriginShieldRegion, and synth warns.
	SourceOriginShieldDefaulted bool
	// EdgeVersionArn, when set, pins the origin-response version instead of reading the edge
	// stack's newest one; it is for the one-time upgrade from a strong cross-stack reference.
	EdgeVersionArn         string
	AutoDeleteBucket       bool
	TransferMaxConcurrency int
	AlarmEmail             string
	IncludePrefixes        []string
	ExcludeSuffixes        []string
	// Source is where the bucket being migrated is read from (sourceEndpoint): the
	// distribution's secondary origin, the origin the edge functions recognise, and the
	// transfer function's endpoint.
	Source sourceendpoint.Endpoint
	// SourceRegion is the SigV4 region of signed source reads: "auto" for GCS.
	SourceRegion string
	// SourceHMACSecret names (or is the ARN of) a Secrets Manager secret holding a GCS HMAC key
	// pair; empty means the GCS bucket is public and read anonymously.
	SourceHMACSecret string
	// SourceHMACSecretRegion is the secret's home region, where every reader reads it.
	SourceHMACSecretRegion string
	// EdgeCodeDir holds the edge handler (index.mjs); TransferCodeDir the built transfer bootstrap.
	EdgeCodeDir     string
	TransferCodeDir string
	// Distribution is what the owner chooses for the distribution: domain, WAF, logs, CORS,
	// cutover.
	Distribution DistributionConfig
}

// Context keys, documented in README.
const (
	ContextRegion                 = "region"
	ContextOriginShieldRegion     = "originShieldRegion"
	ContextAutoDeleteBucket       = "autoDeleteBucket"
	ContextTransferMaxConcurrency = "transferMaxConcurrency"
	ContextAlarmEmail             = "alarmEmail"
	ContextIncludePrefixes        = "includePrefixes"
	ContextExcludeSuffixes        = "excludeSuffixes"
	ContextSourceHMACSecret       = "sourceHmacSecret"
	ContextSourceOriginShield     = "sourceOriginShieldRegion"
	ContextSourceLocation         = "sourceLocation"
	ContextEdgeVersionArn         = "edgeVersionArn"
	ContextSourceEndpoint         = "sourceEndpoint"
	ContextSourceRegion           = "sourceRegion"
)

// ConfigFromApp reads the context of app and the CDK_DEFAULT_* variables the CLI sets.
func ConfigFromApp(app awscdk.App) (Config, error) {
	node := app.Node()
	get := func(key string) (string, error) {
		v := node.TryGetContext(jsii.String(key))
		switch v := v.(type) {
		case nil:
			return "", nil
		case string:
			return strings.TrimSpace(v), nil
		case bool:
			return strconv.FormatBool(v), nil
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), nil
		case []any:
			b, err := json.Marshal(v)
			return string(b), err
		default:
			return "", fmt.Errorf("context %q: unsupported value %v", key, v)
		}
	}
	values := map[string]string{}
	keys := append([]string{ContextRegion, ContextOriginShieldRegion, ContextAutoDeleteBucket,
		ContextTransferMaxConcurrency, ContextAlarmEmail, ContextIncludePrefixes,
		ContextExcludeSuffixes, ContextSourceHMACSecret, ContextSourceOriginShield, ContextSourceLocation,
		ContextEdgeVersionArn, ContextSourceEndpoint, ContextSourceRegion}, distributionContextKeys...)
	for _, key := range keys {
		v, err := get(key)
		if err != nil {
			return Config{}, err
		}
		values[key] = v
	}
	return ParseConfig(values, os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"))
}

var (
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	emailPattern  = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	// A numbered version of a function in us-east-1, as Lambda@Edge requires.
	edgeVersionArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:us-east-1:\d{12}:function:[A-Za-z0-9_.-]+:\d+$`)
	// SigV4 regions of S3-compatible stores: AWS's and others' (Backblaze us-west-004, Wasabi).
	sourceRegionPattern = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)
	secretArnPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:([a-z]{2}(-[a-z]+)+-\d):\d{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	secretNamePattern   = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
)

// secretRegion is where the HMAC secret lives: the region of its ARN, or the main stack's
// region for a name (the transfer function reads it there).
func secretRegion(nameOrArn, stackRegion string) (string, error) {
	if strings.HasPrefix(nameOrArn, "arn:") {
		m := secretArnPattern.FindStringSubmatch(nameOrArn)
		if m == nil {
			return "", fmt.Errorf("context %q: %q is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX)", ContextSourceHMACSecret, nameOrArn)
		}
		return m[1], nil
	}
	if !secretNamePattern.MatchString(nameOrArn) {
		return "", fmt.Errorf("context %q: %q is not a secret name (letters, digits and /_+=.@-)", ContextSourceHMACSecret, nameOrArn)
	}
	return stackRegion, nil
}

// ParseConfig validates context values (as strings) and fills defaults. Every error names the
// context key and the accepted values.
func ParseConfig(context map[string]string, defaultAccount, defaultRegion string) (Config, error) {
	cfg := Config{
		Account:                defaultAccount,
		TransferMaxConcurrency: 50,
		AlarmEmail:             context[ContextAlarmEmail],
		SourceHMACSecret:       context[ContextSourceHMACSecret],
		EdgeCodeDir:            "lambda/edge",
		TransferCodeDir:        "build/transfer",
	}
	if err := cfg.parseRegions(context, defaultRegion); err != nil {
		return Config{}, err
	}
	if err := cfg.parseSource(context); err != nil {
		return Config{}, err
	}
	if err := cfg.parseDeployment(context); err != nil {
		return Config{}, err
	}
	if err := cfg.parseTransfer(context); err != nil {
		return Config{}, err
	}
	var err error
	if cfg.Distribution, err = parseDistribution(context); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseRegions places the stack and the Origin Shields of both origins.
func (c *Config) parseRegions(context map[string]string, defaultRegion string) error {
	c.Region = context[ContextRegion]
	if c.Region == "" {
		c.Region = defaultRegion
	}
	if c.Region == "" {
		// Synth must work on a machine with no AWS configuration; deploy always has a region.
		c.Region, c.RegionDefaulted = EdgeRegion, true
	}
	if !regionPattern.MatchString(c.Region) {
		return fmt.Errorf("context %q: %q is not an AWS region code (like eu-west-1)", ContextRegion, c.Region)
	}

	shield := context[ContextOriginShieldRegion]
	switch {
	case shield != "":
		if !slices.Contains(OriginShieldRegions, shield) {
			return fmt.Errorf("context %q: Origin Shield is not available in %q; valid regions: %s",
				ContextOriginShieldRegion, shield, strings.Join(OriginShieldRegions, ", "))
		}
	case slices.Contains(OriginShieldRegions, c.Region):
		shield = c.Region
	case nearestOriginShield[c.Region] != "":
		shield = nearestOriginShield[c.Region]
	default:
		return fmt.Errorf("context %q: Origin Shield is not available in the stack's region %q and no nearby one is known; set -c %s=REGION, one of: %s",
			ContextOriginShieldRegion, c.Region, ContextOriginShieldRegion, strings.Join(OriginShieldRegions, ", "))
	}
	c.OriginShieldRegion = shield
	return c.placeSourceOriginShield(context[ContextSourceOriginShield], context[ContextSourceLocation])
}

// parseSource reads where and how the source bucket is read: its endpoint, the SigV4 region
// and the HMAC secret of a private bucket.
func (c *Config) parseSource(context map[string]string) error {
	endpoint := context[ContextSourceEndpoint]
	if endpoint == "" {
		endpoint = sourceendpoint.Default
	}
	source, err := sourceendpoint.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("context %q: %w", ContextSourceEndpoint, err)
	}
	c.Source = source
	c.SourceRegion = context[ContextSourceRegion]
	if c.SourceRegion == "" {
		c.SourceRegion = sourceendpoint.DefaultRegion
	}
	if c.SourceRegion != sourceendpoint.DefaultRegion && !sourceRegionPattern.MatchString(c.SourceRegion) {
		return fmt.Errorf("context %q: %q is neither %q (GCS) nor a region name like us-east-1 or eu-central-003", ContextSourceRegion, c.SourceRegion, sourceendpoint.DefaultRegion)
	}
	if c.SourceHMACSecret != "" {
		if c.SourceHMACSecretRegion, err = secretRegion(c.SourceHMACSecret, c.Region); err != nil {
			return err
		}
	}
	return nil
}

// parseDeployment reads the settings of one deployment: a pinned edge version, a throwaway
// bucket.
func (c *Config) parseDeployment(context map[string]string) error {
	if v := context[ContextEdgeVersionArn]; v != "" {
		if !edgeVersionArnPattern.MatchString(v) {
			return fmt.Errorf("context %q: %q is not the ARN of a numbered Lambda version in us-east-1 (arn:aws:lambda:us-east-1:ACCOUNT:function:NAME:VERSION)", ContextEdgeVersionArn, v)
		}
		c.EdgeVersionArn = v
	}
	switch v := context[ContextAutoDeleteBucket]; v {
	case "", "false":
	case "true":
		c.AutoDeleteBucket = true
	default:
		return fmt.Errorf("context %q: want true or false, got %q", ContextAutoDeleteBucket, v)
	}
	return nil
}

// parseTransfer reads the transfer pipeline's settings: its concurrency cap, who hears its
// alarms and which keys it copies.
func (c *Config) parseTransfer(context map[string]string) error {
	if v := context[ContextTransferMaxConcurrency]; v != "" {
		n, err := strconv.Atoi(v)
		// Lambda's SQS event source accepts a maximum concurrency of 2 to 1000.
		if err != nil || n < 2 || n > 1000 {
			return fmt.Errorf("context %q: want a whole number from 2 to 1000, got %q", ContextTransferMaxConcurrency, v)
		}
		c.TransferMaxConcurrency = n
	}
	if c.AlarmEmail != "" && !emailPattern.MatchString(c.AlarmEmail) {
		return fmt.Errorf("context %q: %q is not an email address", ContextAlarmEmail, c.AlarmEmail)
	}
	var err error
	if c.IncludePrefixes, err = parseList(ContextIncludePrefixes, context[ContextIncludePrefixes]); err != nil {
		return err
	}
	c.ExcludeSuffixes, err = parseList(ContextExcludeSuffixes, context[ContextExcludeSuffixes])
	return err
}

// placeSourceOriginShield puts the source origin's Origin Shield in the region given, or near the
// source's location, or (with a synth warning) where the S3 origin's is.
func (c *Config) placeSourceOriginShield(region, location string) error {
	switch {
	case region != "" && location != "":
		return fmt.Errorf("context %q and %q: set one of them, not both", ContextSourceOriginShield, ContextSourceLocation)
	case region != "":
		if !slices.Contains(OriginShieldRegions, region) {
			return fmt.Errorf("context %q: Origin Shield is not available in %q; valid regions: %s",
				ContextSourceOriginShield, region, strings.Join(OriginShieldRegions, ", "))
		}
		c.SourceOriginShieldRegion = region
	case location != "":
		shield, err := NearestOriginShieldForGCS(location)
		if err != nil {
			return fmt.Errorf("context %q: %w", ContextSourceLocation, err)
		}
		c.SourceOriginShieldRegion = shield
	default:
		c.SourceOriginShieldRegion, c.SourceOriginShieldDefaulted = c.OriginShieldRegion, true
	}
	return nil
}

// parseList accepts a JSON array of strings (from cdk.json) or a comma-separated list (from -c).
func parseList(key, v string) ([]string, error) {
	if v == "" {
		return []string{}, nil
	}
	var items []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &items); err != nil {
			return nil, fmt.Errorf("context %q: want a JSON array of strings or a comma-separated list: %w", key, err)
		}
	} else {
		items = strings.Split(v, ",")
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("context %q: empty entry in %q", key, v)
		}
		out = append(out, item)
	}
	return out, nil
}

// env returns the stack environment; an empty account keeps the stack environment-agnostic.
func (c Config) env(region string) *awscdk.Environment {
	env := &awscdk.Environment{Region: jsii.String(region)}
	if c.Account != "" {
		env.Account = jsii.String(c.Account)
	}
	return env
}
