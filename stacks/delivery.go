package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/backtoorigin/backtoorigin/internal/sourceendpoint"

	viewerrequest "github.com/backtoorigin/backtoorigin/lambda/viewer-request"
)

// errorCachingTTL bounds how long CloudFront remembers a 403/404, so an object that was just
// copied (or just uploaded to GCS) shows up quickly. CloudFront's own default is 10 s.
const errorCachingTTL = 10 // seconds

// corsMaxAgeSeconds is how long a browser may reuse a preflight's answer.
const corsMaxAgeSeconds = 600

// accessLogDays is how long the standard logs are kept.
const accessLogDays = 90

// CORSExposeHeaders are the response headers, beyond the CORS-safelisted ones, that scripts of
// an allowed origin may read: what a ranged or conditional reader needs.
var CORSExposeHeaders = []string{"ETag", "Content-Range", "Accept-Ranges"}

type DeliveryProps struct {
	// Settings are the owner's choices (domain, WAF, logs, CORS, cutover).
	Settings DistributionConfig
	// CertificateArn covers Settings.DomainNames (given by the owner or issued by the edge stack).
	CertificateArn string
	// AutoDeleteLogs deletes the log bucket with the stack, like the data bucket.
	AutoDeleteLogs bool

	Bucket awss3.IBucket
	// Source is the endpoint of the bucket being migrated; GCSBucketName its bucket (a
	// parameter of the stack).
	Source        sourceendpoint.Endpoint
	GCSBucketName *string
	// S3OriginShieldRegion is near the bucket (the stack's region); SourceOriginShieldRegion is
	// near the source. AWS: "Specify the AWS Region that has the lowest latency to your origin"
	// (CloudFront API Reference, OriginShield).
	S3OriginShieldRegion     string
	SourceOriginShieldRegion string
	OriginResponse           awslambda.IVersion
	// OriginRequest, when set, signs the requests to a private source.
	OriginRequest awslambda.IVersion
}

// Delivery is the CloudFront distribution: S3 first, GCS when S3 does not have the object yet.
type Delivery struct {
	constructs.Construct
	Distribution awscloudfront.Distribution
	// LogBucket receives the standard logs; nil unless accessLogs is on.
	LogBucket awss3.Bucket
}

func NewDelivery(scope constructs.Construct, id string, props *DeliveryProps) *Delivery {
	this := constructs.NewConstruct(scope, &id)

	// READ + LIST: with list permission S3 answers 404 for a missing key, which is what the
	// origin group fails over on and what the viewer would otherwise see as a 403.
	s3Origin := awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(props.Bucket, &awscloudfrontorigins.S3BucketOriginWithOACProps{
		OriginAccessLevels: &[]awscloudfront.AccessLevel{awscloudfront.AccessLevel_READ, awscloudfront.AccessLevel_LIST},
		OriginShieldRegion: jsii.String(props.S3OriginShieldRegion),
	})
	gcsOrigin := newSourceOrigin(props.Source, props.GCSBucketName, props.SourceOriginShieldRegion)
	origins := awscloudfrontorigins.NewOriginGroup(&awscloudfrontorigins.OriginGroupProps{
		PrimaryOrigin:       s3Origin,
		FallbackOrigin:      gcsOrigin,
		FallbackStatusCodes: &[]*float64{jsii.Number(403), jsii.Number(404)},
	})

	// The object path is the whole cache key: no query strings, headers or cookies. The
	// normalised Accept-Encoding that compression needs is added by CloudFront itself and, sent
	// on to GCS, keeps gzip-stored objects byte-exact like S3 serves them.
	cachePolicy := awscloudfront.NewCachePolicy(this, jsii.String("PathOnly"), &awscloudfront.CachePolicyProps{
		Comment:                    jsii.String("Cache key: the object path only"),
		QueryStringBehavior:        awscloudfront.CacheQueryStringBehavior_None(),
		HeaderBehavior:             awscloudfront.CacheHeaderBehavior_None(),
		CookieBehavior:             awscloudfront.CacheCookieBehavior_None(),
		EnableAcceptEncodingGzip:   jsii.Bool(true),
		EnableAcceptEncodingBrotli: jsii.Bool(true),
		DefaultTtl:                 awscdk.Duration_Days(jsii.Number(1)),
		MinTtl:                     awscdk.Duration_Seconds(jsii.Number(0)),
		MaxTtl:                     awscdk.Duration_Days(jsii.Number(365)),
	})

	// Before the cache lookup, so the cache key, S3 and GCS all see a literal "+" as %2B.
	viewerRequest := awscloudfront.NewFunction(this, jsii.String("ViewerRequest"), &awscloudfront.FunctionProps{
		Comment: jsii.String("Spells a literal + in the URI as %2B: S3 would read it as a space"),
		Runtime: awscloudfront.FunctionRuntime_JS_2_0(),
		Code:    awscloudfront.FunctionCode_FromInline(jsii.String(viewerrequest.Source)),
	})

	errorResponse := func(status float64) *awscloudfront.ErrorResponse {
		return &awscloudfront.ErrorResponse{HttpStatus: jsii.Number(status), Ttl: awscdk.Duration_Seconds(jsii.Number(errorCachingTTL))}
	}
	settings := props.Settings
	behavior := &awscloudfront.BehaviorOptions{
		Origin:               origins,
		ViewerProtocolPolicy: awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
		// Origin groups fail over only for these methods.
		AllowedMethods: awscloudfront.AllowedMethods_ALLOW_GET_HEAD_OPTIONS(),
		CachedMethods:  awscloudfront.CachedMethods_CACHE_GET_HEAD_OPTIONS(),
		Compress:       jsii.Bool(true),
		CachePolicy:    cachePolicy,
		FunctionAssociations: &[]*awscloudfront.FunctionAssociation{{
			EventType: awscloudfront.FunctionEventType_VIEWER_REQUEST,
			Function:  viewerRequest,
		}},
		EdgeLambdas: &[]*awscloudfront.EdgeLambda{{
			EventType:       awscloudfront.LambdaEdgeEventType_ORIGIN_RESPONSE,
			FunctionVersion: props.OriginResponse,
		}},
	}
	if props.OriginRequest != nil {
		// On the default behavior it runs for both origins of the group; it signs only the
		// source's request (the S3 one carries OAC's signature).
		edgeLambdas := append(*behavior.EdgeLambdas, &awscloudfront.EdgeLambda{
			EventType:       awscloudfront.LambdaEdgeEventType_ORIGIN_REQUEST,
			FunctionVersion: props.OriginRequest,
		})
		behavior.EdgeLambdas = &edgeLambdas
	}
	comment := "Back-to-origin: S3 first, GCS on a miss"
	if settings.Cutover {
		// The migration is complete: S3 alone answers, a missing key is a 404, GCS is never
		// contacted and nothing is queued. The viewer-request function stays, since S3 still
		// reads a literal "+" as a space. The distribution is the same resource (same logical
		// id, same domain name), so cutover=false restores the failover in place.
		behavior.Origin = s3Origin
		behavior.EdgeLambdas = nil
		comment = "Back-to-origin, cut over: S3 only"
	}
	if len(settings.CORSAllowOrigins) > 0 {
		behavior.ResponseHeadersPolicy, behavior.OriginRequestPolicy = newCORSPolicies(this, settings.CORSAllowOrigins)
	}

	distProps := &awscloudfront.DistributionProps{
		Comment: jsii.String(comment),
		// With LIST access, a request for "/" would return the bucket listing; a root object
		// turns it into an ordinary key (404 when absent). Query strings never reach S3.
		DefaultRootObject: jsii.String("index.html"),
		HttpVersion:       awscloudfront.HttpVersion_HTTP2_AND_3,
		DefaultBehavior:   behavior,
		ErrorResponses:    &[]*awscloudfront.ErrorResponse{errorResponse(403), errorResponse(404)},
	}
	var suppressions []*cdknag.NagPackSuppression
	suppress := func(id, reason string) {
		suppressions = append(suppressions, &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)})
	}

	if len(settings.DomainNames) > 0 {
		distProps.DomainNames = jsii.Strings(settings.DomainNames...)
		distProps.Certificate = awscertificatemanager.Certificate_FromCertificateArn(this, jsii.String("Certificate"), jsii.String(props.CertificateArn))
		distProps.MinimumProtocolVersion = tlsPolicies[settings.MinimumTLSVersion]
		if !strings.HasPrefix(settings.MinimumTLSVersion, "TLSv1.2") && !strings.HasPrefix(settings.MinimumTLSVersion, "TLSv1.3") {
			suppress("AwsSolutions-CFR4", "The owner chose "+settings.MinimumTLSVersion+" (-c "+ContextMinimumTLSVersion+") for viewers that cannot do TLS 1.2")
		}
	} else {
		suppress("AwsSolutions-CFR4", "The default *.cloudfront.net certificate does not allow choosing the TLS policy; set -c "+ContextDomainNames+" to choose it")
	}
	if settings.WebACLArn != "" {
		distProps.WebAclId = jsii.String(settings.WebACLArn)
	} else {
		suppress("AwsSolutions-CFR2", "Off by default: a public, read-only object store that is public on GCS today; -c "+ContextWebACLArn+" attaches a global web ACL")
	}
	if settings.PriceClass != "" {
		distProps.PriceClass = priceClasses[settings.PriceClass]
	}
	switch {
	case len(settings.GeoAllow) > 0:
		distProps.GeoRestriction = awscloudfront.GeoRestriction_Allowlist(*jsii.Strings(settings.GeoAllow...)...)
	case len(settings.GeoDeny) > 0:
		distProps.GeoRestriction = awscloudfront.GeoRestriction_Denylist(*jsii.Strings(settings.GeoDeny...)...)
	default:
		suppress("AwsSolutions-CFR1", "Off by default: the objects are public on GCS today, with no geo restriction; -c "+ContextGeoAllow+" or "+ContextGeoDeny+" sets one")
	}
	var logBucket awss3.Bucket
	if settings.AccessLogs {
		logBucket = newAccessLogBucket(this, props.AutoDeleteLogs)
		distProps.EnableLogging = jsii.Bool(true)
		distProps.LogBucket = logBucket
		distProps.LogFilePrefix = jsii.String("cloudfront/")
	} else {
		suppress("AwsSolutions-CFR3", "Off by default: standard logs cost storage and CloudWatch metrics cover operations; -c "+ContextAccessLogs+"=true writes them to a log bucket")
	}

	distribution := awscloudfront.NewDistribution(this, jsii.String("Distribution"), distProps)
	awscdk.Annotations_Of(distribution).AcknowledgeWarning(jsii.String("@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk"),
		jsii.String("DefaultRootObject is set, so no request path maps to a bucket listing"))
	if len(suppressions) > 0 {
		cdknag.NagSuppressions_AddResourceSuppressions(distribution, &suppressions, nil)
	}
	if settings.HostedZoneID != "" {
		newAliasRecords(this, distribution, settings)
	}
	return &Delivery{Construct: this, Distribution: distribution, LogBucket: logBucket}
}

// newSourceOrigin is the secondary origin: the source endpoint's host with the bucket as the
// origin path (path-style, GCS's default), or the bucket in the host name (virtual-hosted). The
// bucket is a stack parameter, so the name is joined in by CloudFormation.
func newSourceOrigin(source sourceendpoint.Endpoint, bucket *string, shieldRegion string) awscloudfront.IOrigin {
	props := &awscloudfrontorigins.HttpOriginProps{
		ProtocolPolicy:     awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
		OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{awscloudfront.OriginSslPolicy_TLS_V1_2},
		OriginShieldRegion: jsii.String(shieldRegion),
	}
	if source.Port != 0 {
		props.HttpsPort = jsii.Number(float64(source.Port))
	}
	domain := jsii.String(source.Host)
	if source.VirtualHosted() {
		domain = awscdk.Fn_Join(jsii.String(""), &[]*string{bucket, jsii.String(strings.TrimPrefix(source.Host, sourceendpoint.BucketPlaceholder))})
	} else {
		props.OriginPath = awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("/"), bucket})
	}
	return awscloudfrontorigins.NewHttpOrigin(domain, props)
}

var tlsPolicies = map[string]awscloudfront.SecurityPolicyProtocol{
	"TLSv1.3_2025": awscloudfront.SecurityPolicyProtocol_TLS_V1_3_2025,
	"TLSv1.2_2025": awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2025,
	"TLSv1.2_2021": awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021,
	"TLSv1.2_2019": awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2019,
	"TLSv1.2_2018": awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2018,
	"TLSv1.1_2016": awscloudfront.SecurityPolicyProtocol_TLS_V1_1_2016,
	"TLSv1_2016":   awscloudfront.SecurityPolicyProtocol_TLS_V1_2016,
	"TLSv1":        awscloudfront.SecurityPolicyProtocol_TLS_V1,
}

var priceClasses = map[string]awscloudfront.PriceClass{
	"PriceClass_100": awscloudfront.PriceClass_PRICE_CLASS_100,
	"PriceClass_200": awscloudfront.PriceClass_PRICE_CLASS_200,
	"PriceClass_All": awscloudfront.PriceClass_PRICE_CLASS_ALL,
}

// newCORSPolicies makes GCS and S3 answer cross-origin requests alike.
//
// The response headers policy adds the CORS headers at the edge, to cached and uncached
// responses, and with OriginOverride replaces whatever an origin sent, so a GET carries the
// same headers whichever origin answered ("CloudFront adds these headers to HTTP responses that
// it sends for CORS requests that match a cache behavior associated with this response headers
// policy", CloudFormation AWS::CloudFront::ResponseHeadersPolicy CorsConfig). The policy adds
// headers but does not answer a preflight itself: the OPTIONS goes to the origin, whose status
// the browser checks. S3 answers a preflight from its bucket CORS rules whether the key exists
// or not (newMigrationBucket), but only when it sees the CORS request headers, which a path-only
// cache key does not forward; so an origin request policy forwards them, outside the cache key.
// AWS: for cached OPTIONS "for your Amazon S3 Origin, you may need to forward
// Access-Control-Request-Method, Access-Control-Request-Headers, and Origin headers"
// (CloudFront API Reference, CachedMethods). A cached preflight is safe to share between
// origins because the policy rewrites the CORS headers per viewer request.
func newCORSPolicies(scope constructs.Construct, origins []string) (awscloudfront.IResponseHeadersPolicy, awscloudfront.IOriginRequestPolicy) {
	headers := awscloudfront.NewResponseHeadersPolicy(scope, jsii.String("Cors"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment: jsii.String("CORS for the allowed origins, the same whether GCS or S3 answered"),
		CorsBehavior: &awscloudfront.ResponseHeadersCorsBehavior{
			AccessControlAllowCredentials: jsii.Bool(false),
			AccessControlAllowHeaders:     jsii.Strings("*"),
			AccessControlAllowMethods:     jsii.Strings("GET", "HEAD", "OPTIONS"),
			AccessControlAllowOrigins:     jsii.Strings(origins...),
			AccessControlExposeHeaders:    jsii.Strings(CORSExposeHeaders...),
			AccessControlMaxAge:           awscdk.Duration_Seconds(jsii.Number(corsMaxAgeSeconds)),
			OriginOverride:                jsii.Bool(true),
		},
	})
	forward := awscloudfront.NewOriginRequestPolicy(scope, jsii.String("CorsRequest"), &awscloudfront.OriginRequestPolicyProps{
		Comment:             jsii.String("Forwards the CORS request headers, so S3 answers preflights"),
		HeaderBehavior:      awscloudfront.OriginRequestHeaderBehavior_AllowList(*jsii.Strings("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")...),
		QueryStringBehavior: awscloudfront.OriginRequestQueryStringBehavior_None(),
		CookieBehavior:      awscloudfront.OriginRequestCookieBehavior_None(),
	})
	return headers, forward
}

// newAccessLogBucket holds CloudFront's standard logs. Standard logging writes with an ACL
// granting the awslogsdelivery account, so the bucket must have ACLs enabled (object ownership
// ObjectWriter), unlike the data bucket.
//
// Log delivery to CloudWatch Logs (standard logging v2) is not offered: its delivery source must
// be created in us-east-1 and names the distribution, which lives in the main stack; the main
// stack already depends on the us-east-1 edge stack, so the delivery resources there would make
// a dependency cycle.
func newAccessLogBucket(scope constructs.Construct, autoDelete bool) awss3.Bucket {
	removal := awscdk.RemovalPolicy_RETAIN
	if autoDelete {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	logs := awss3.NewBucket(scope, jsii.String("Logs"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		ObjectOwnership:   awss3.ObjectOwnership_OBJECT_WRITER,
		RemovalPolicy:     removal,
		AutoDeleteObjects: jsii.Bool(autoDelete),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:         jsii.String("ExpireLogs"),
			Expiration: awscdk.Duration_Days(jsii.Number(accessLogDays)),
		}},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(logs, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("This is the log bucket; logging its own access would log into itself"),
	}}, nil)
	return logs
}

// newAliasRecords points the custom domain names at the distribution (IPv4 and IPv6, as the
// distribution serves both).
func newAliasRecords(scope constructs.Construct, distribution awscloudfront.Distribution, settings DistributionConfig) {
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(scope, jsii.String("HostedZone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(settings.HostedZoneID),
		ZoneName:     jsii.String(settings.HostedZoneName),
	})
	target := awsroute53.RecordTarget_FromAlias(awsroute53targets.NewCloudFrontTarget(distribution))
	for _, name := range settings.DomainNames {
		// The record's construct id is its name: adding a name adds records, changes none.
		id := strings.NewReplacer("*", "wildcard", ".", "-").Replace(name)
		awsroute53.NewARecord(scope, jsii.String("A-"+id), &awsroute53.ARecordProps{Zone: zone, RecordName: jsii.String(name), Target: target})
		awsroute53.NewAaaaRecord(scope, jsii.String("AAAA-"+id), &awsroute53.AaaaRecordProps{Zone: zone, RecordName: jsii.String(name), Target: target})
	}
}
