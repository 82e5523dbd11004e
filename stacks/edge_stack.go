package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

type EdgeStackProps struct {
	awscdk.StackProps
	Config Config
	// QueueName and QueueRegion locate the transfer queue of the main stack.
	QueueName   string
	QueueRegion string
}

// EdgeStack holds the Lambda@Edge function, which must live in us-east-1.
type EdgeStack struct {
	awscdk.Stack
	OriginResponse *OriginResponse
	// OriginResponseVersion publishes the version's ARN for the main stack, weakly.
	OriginResponseVersion *WeakExport
	// OriginRequest signs requests to a private source; nil without sourceHmacSecret.
	OriginRequest        *OriginRequest
	OriginRequestVersion *WeakExport
	// Certificate publishes the ARN of the certificate the stack issues for the custom domain;
	// nil when there is none or the owner brought one (certificateArn).
	Certificate *WeakExport
}

func NewEdgeStack(scope constructs.Construct, id string, props *EdgeStackProps) (*EdgeStack, error) {
	sprops := props.StackProps
	sprops.Env = props.Config.env(EdgeRegion)
	if sprops.Description == nil {
		sprops.Description = jsii.String("Back-to-origin: Lambda@Edge origin-response handler that queues objects served from GCS")
	}
	stack := awscdk.NewStack(scope, &id, &sprops)

	originResponse, err := NewOriginResponse(stack, "OriginResponse", &OriginResponseProps{
		CodeDir: props.Config.EdgeCodeDir,
		Settings: EdgeSettings{
			QueueName:        props.QueueName,
			QueueRegion:      props.QueueRegion,
			SourceDomainName: props.Config.Source.Host,
			IncludePrefixes:  props.Config.IncludePrefixes,
			ExcludeSuffixes:  props.Config.ExcludeSuffixes,
		},
	})
	if err != nil {
		return nil, err
	}
	version := NewWeakExport(stack, "OriginResponseVersion", &WeakExportProps{
		Value:        originResponse.Version.FunctionArn(),
		RefreshToken: *originResponse.VersionLogicalID,
		Description:  "ARN of the origin-response function's current version, read by the " + MainStackName + " stack",
	})
	edge := &EdgeStack{Stack: stack, OriginResponse: originResponse, OriginResponseVersion: version}
	if cfg := props.Config; cfg.SourceHMACSecret != "" && !cfg.Distribution.Cutover {
		signer, err := NewOriginRequest(stack, "OriginRequest", &OriginRequestProps{
			CodeDir: cfg.EdgeCodeDir,
			Settings: SigningSettings{
				SourceDomainName: cfg.Source.Host,
				SourceRegion:     cfg.SourceRegion,
				SecretID:         cfg.SourceHMACSecret,
				SecretRegion:     cfg.SourceHMACSecretRegion,
			},
		})
		if err != nil {
			return nil, err
		}
		edge.OriginRequest = signer
		edge.OriginRequestVersion = NewWeakExport(stack, "OriginRequestVersion", &WeakExportProps{
			Value:        signer.Version.FunctionArn(),
			RefreshToken: *signer.VersionLogicalID,
			Description:  "ARN of the origin-request function's current version, read by the " + MainStackName + " stack",
		})
	}
	if d := props.Config.Distribution; d.CreatesCertificate() {
		edge.Certificate = newEdgeCertificate(stack, d)
	}
	return edge, nil
}

// newEdgeCertificate issues a DNS-validated certificate for the custom domain here, because
// CloudFront accepts only certificates in us-east-1, and publishes its ARN weakly: a change of
// domain names replaces the certificate, and a strong reference would then rename the export
// the main stack imports.
func newEdgeCertificate(stack awscdk.Stack, d DistributionConfig) *WeakExport {
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("HostedZone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(d.HostedZoneID),
		ZoneName:     jsii.String(d.HostedZoneName),
	})
	certificate := awscertificatemanager.NewCertificate(stack, jsii.String("CustomDomainCertificate"), &awscertificatemanager.CertificateProps{
		DomainName:              jsii.String(d.DomainNames[0]),
		SubjectAlternativeNames: jsii.Strings(d.DomainNames[1:]...),
		Validation:              awscertificatemanager.CertificateValidation_FromDns(zone),
	})
	return NewWeakExport(stack, "Certificate", &WeakExportProps{
		Value:        certificate.CertificateArn(),
		RefreshToken: d.CertificateRefreshToken(),
		Description:  "ARN of the custom domain's certificate, read by the " + MainStackName + " stack",
	})
}
