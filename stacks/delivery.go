package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	viewerrequest "github.com/backtoorigin/backtoorigin/lambda/viewer-request"
)

// errorCachingTTL bounds how long CloudFront remembers a 403/404, so an object that was just
// copied (or just uploaded to GCS) shows up quickly. CloudFront's own default is 10 s.
const errorCachingTTL = 10 // seconds

type DeliveryProps struct {
	Bucket        awss3.IBucket
	GCSBucketName *string
	// S3OriginShieldRegion is near the bucket (the stack's region); SourceOriginShieldRegion is
	// near the source. AWS: "Specify the AWS Region that has the lowest latency to your origin"
	// (CloudFront API Reference, OriginShield).
	S3OriginShieldRegion     string
	SourceOriginShieldRegion string
	OriginResponse           awslambda.IVersion
}

// Delivery is the CloudFront distribution: S3 first, GCS when S3 does not have the object yet.
type Delivery struct {
	constructs.Construct
	Distribution awscloudfront.Distribution
}

func NewDelivery(scope constructs.Construct, id string, props *DeliveryProps) *Delivery {
	this := constructs.NewConstruct(scope, &id)

	// READ + LIST: with list permission S3 answers 404 for a missing key, which is what the
	// origin group fails over on and what the viewer would otherwise see as a 403.
	s3Origin := awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(props.Bucket, &awscloudfrontorigins.S3BucketOriginWithOACProps{
		OriginAccessLevels: &[]awscloudfront.AccessLevel{awscloudfront.AccessLevel_READ, awscloudfront.AccessLevel_LIST},
		OriginShieldRegion: jsii.String(props.S3OriginShieldRegion),
	})
	gcsOrigin := awscloudfrontorigins.NewHttpOrigin(jsii.String(GCSDomainName), &awscloudfrontorigins.HttpOriginProps{
		OriginPath:         awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("/"), props.GCSBucketName}),
		ProtocolPolicy:     awscloudfront.OriginProtocolPolicy_HTTPS_ONLY,
		OriginSslProtocols: &[]awscloudfront.OriginSslPolicy{awscloudfront.OriginSslPolicy_TLS_V1_2},
		OriginShieldRegion: jsii.String(props.SourceOriginShieldRegion),
	})
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
	distribution := awscloudfront.NewDistribution(this, jsii.String("Distribution"), &awscloudfront.DistributionProps{
		Comment: jsii.String("Back-to-origin: S3 first, GCS on a miss"),
		// With LIST access, a request for "/" would return the bucket listing; a root object
		// turns it into an ordinary key (404 when absent). Query strings never reach S3.
		DefaultRootObject: jsii.String("index.html"),
		HttpVersion:       awscloudfront.HttpVersion_HTTP2_AND_3,
		DefaultBehavior: &awscloudfront.BehaviorOptions{
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
		},
		ErrorResponses: &[]*awscloudfront.ErrorResponse{errorResponse(403), errorResponse(404)},
	})
	awscdk.Annotations_Of(distribution).AcknowledgeWarning(jsii.String("@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk"),
		jsii.String("DefaultRootObject is set, so no request path maps to a bucket listing"))
	cdknag.NagSuppressions_AddResourceSuppressions(distribution, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-CFR1"), Reason: jsii.String("The objects are public today on GCS; geo restrictions are the owner's choice, not the migration's")},
		{Id: jsii.String("AwsSolutions-CFR2"), Reason: jsii.String("A public, read-only object store; a WAF web ACL is an add-on the owner can attach")},
		{Id: jsii.String("AwsSolutions-CFR3"), Reason: jsii.String("Access logging needs a log bucket with ACLs; left to the owner, CloudWatch metrics cover operations")},
		{Id: jsii.String("AwsSolutions-CFR4"), Reason: jsii.String("The default *.cloudfront.net certificate does not allow choosing the TLS policy; a custom domain would")},
	}, nil)
	return &Delivery{Construct: this, Distribution: distribution}
}
