package stacks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Context keys of the distribution's settings, documented in README.
const (
	ContextDomainNames       = "domainNames"
	ContextCertificateArn    = "certificateArn"
	ContextHostedZoneID      = "hostedZoneId"
	ContextHostedZoneName    = "hostedZoneName"
	ContextMinimumTLSVersion = "minimumTlsVersion"
	ContextWebACLArn         = "webAclArn"
	ContextPriceClass        = "priceClass"
	ContextGeoAllow          = "geoAllow"
	ContextGeoDeny           = "geoDeny"
	ContextAccessLogs        = "accessLogs"
	ContextCORSAllowOrigins  = "corsAllowOrigins"
	ContextCutover           = "cutover"
)

var distributionContextKeys = []string{ContextDomainNames, ContextCertificateArn, ContextHostedZoneID,
	ContextHostedZoneName, ContextMinimumTLSVersion, ContextWebACLArn, ContextPriceClass, ContextGeoAllow,
	ContextGeoDeny, ContextAccessLogs, ContextCORSAllowOrigins, ContextCutover}

// DistributionConfig is what the owner of the distribution chooses; the zero value is a
// distribution on its *.cloudfront.net name, served everywhere, failing over to GCS.
type DistributionConfig struct {
	// DomainNames are the alternate domain names (CNAMEs) viewers use.
	DomainNames []string
	// CertificateArn is an ACM certificate in us-east-1 covering DomainNames; empty when the app
	// creates one from the hosted zone.
	CertificateArn string
	// HostedZoneID and HostedZoneName, when set, are the Route 53 zone that holds DomainNames:
	// the app validates its certificate there (unless CertificateArn is given) and writes the
	// alias records.
	HostedZoneID   string
	HostedZoneName string
	// MinimumTLSVersion is CloudFront's security policy name, as in TLSv1.2_2021.
	MinimumTLSVersion string
	WebACLArn         string
	// PriceClass is PriceClass_100, PriceClass_200 or PriceClass_All.
	PriceClass string
	// GeoAllow or GeoDeny (not both) are ISO 3166-1 alpha-2 country codes.
	GeoAllow []string
	GeoDeny  []string
	// AccessLogs writes CloudFront standard logs to a log bucket of the stack.
	AccessLogs bool
	// CORSAllowOrigins are the origins a browser may read objects from ("*" for any).
	CORSAllowOrigins []string
	// Cutover serves from S3 alone: no GCS origin, no origin-response function.
	Cutover bool
}

// CreatesCertificate says whether the edge stack must issue the certificate.
func (d DistributionConfig) CreatesCertificate() bool {
	return len(d.DomainNames) > 0 && d.CertificateArn == "" && d.HostedZoneID != ""
}

// CertificateRefreshToken changes exactly when the created certificate is replaced: its domain
// names and validation zone are the properties whose change replaces it.
func (d DistributionConfig) CertificateRefreshToken() string {
	sum := sha256.Sum256([]byte(strings.Join(d.DomainNames, ",") + "@" + d.HostedZoneID))
	return hex.EncodeToString(sum[:8])
}

// TLSVersions are CloudFront's security policies for a custom domain (SNI), newest first.
var TLSVersions = []string{"TLSv1.3_2025", "TLSv1.2_2025", "TLSv1.2_2021", "TLSv1.2_2019", "TLSv1.2_2018", "TLSv1.1_2016", "TLSv1_2016", "TLSv1"}

// DefaultTLSVersion is CDK's and CloudFront's recommendation for a custom domain.
const DefaultTLSVersion = "TLSv1.2_2021"

// PriceClasses are CloudFront's price classes.
var PriceClasses = []string{"PriceClass_100", "PriceClass_200", "PriceClass_All"}

var (
	// An ACM certificate in us-east-1: CloudFront accepts no other region.
	certificateArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$`)
	// A WAFv2 web ACL of scope CLOUDFRONT: those live in us-east-1 under "global/".
	webACLArnPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:wafv2:([a-z0-9-]+):\d{12}:(global|regional)/webacl/[A-Za-z0-9_-]{1,128}/[0-9a-f-]{36}$`)
	hostedZoneIDPattern = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	// A DNS name of letters, digits and hyphens, optionally starting with a "*." wildcard.
	domainNamePattern = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$`)
	// An origin as browsers send it: scheme, host and optional port, no path.
	corsOriginPattern = regexp.MustCompile(`^https?://([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:\d{1,5})?$`)
)

// parseDistribution validates the distribution's context settings.
func parseDistribution(context map[string]string) (DistributionConfig, error) {
	var d DistributionConfig
	var err error
	if d.DomainNames, err = parseList(ContextDomainNames, strings.ToLower(context[ContextDomainNames])); err != nil {
		return d, err
	}
	for _, name := range d.DomainNames {
		if !domainNamePattern.MatchString(name) || len(name) > 253 {
			return d, fmt.Errorf("context %q: %q is not a domain name (like assets.example.com or *.example.com)", ContextDomainNames, name)
		}
	}
	d.CertificateArn = context[ContextCertificateArn]
	d.HostedZoneID = context[ContextHostedZoneID]
	d.HostedZoneName = strings.TrimSuffix(strings.ToLower(context[ContextHostedZoneName]), ".")
	if err := d.checkDomain(context[ContextMinimumTLSVersion]); err != nil {
		return d, err
	}

	if d.WebACLArn = context[ContextWebACLArn]; d.WebACLArn != "" {
		m := webACLArnPattern.FindStringSubmatch(d.WebACLArn)
		if m == nil || m[1] != EdgeRegion || m[2] != "global" {
			return d, fmt.Errorf("context %q: %q is not a web ACL of scope CLOUDFRONT (arn:aws:wafv2:us-east-1:ACCOUNT:global/webacl/NAME/ID); CloudFront accepts only those", ContextWebACLArn, d.WebACLArn)
		}
	}
	if d.PriceClass = context[ContextPriceClass]; d.PriceClass != "" && !slices.Contains(PriceClasses, d.PriceClass) {
		return d, fmt.Errorf("context %q: %q is not a price class; valid: %s", ContextPriceClass, d.PriceClass, strings.Join(PriceClasses, ", "))
	}
	if d.GeoAllow, err = parseCountries(ContextGeoAllow, context[ContextGeoAllow]); err != nil {
		return d, err
	}
	if d.GeoDeny, err = parseCountries(ContextGeoDeny, context[ContextGeoDeny]); err != nil {
		return d, err
	}
	if len(d.GeoAllow) > 0 && len(d.GeoDeny) > 0 {
		return d, fmt.Errorf("context %q and %q: set one of them, not both (CloudFront has one geo restriction: an allow list or a deny list)", ContextGeoAllow, ContextGeoDeny)
	}
	if d.AccessLogs, err = parseBool(ContextAccessLogs, context[ContextAccessLogs]); err != nil {
		return d, err
	}
	if d.Cutover, err = parseBool(ContextCutover, context[ContextCutover]); err != nil {
		return d, err
	}
	if d.CORSAllowOrigins, err = parseList(ContextCORSAllowOrigins, context[ContextCORSAllowOrigins]); err != nil {
		return d, err
	}
	for _, origin := range d.CORSAllowOrigins {
		if origin == "*" && len(d.CORSAllowOrigins) > 1 {
			return d, fmt.Errorf("context %q: \"*\" allows every origin and cannot be listed with others", ContextCORSAllowOrigins)
		}
		if origin != "*" && !corsOriginPattern.MatchString(origin) {
			return d, fmt.Errorf("context %q: %q is not an origin; want \"*\" or a list of scheme://host[:port] in lower case, no path (like https://app.example.com)", ContextCORSAllowOrigins, origin)
		}
	}
	return d, nil
}

// checkDomain validates the custom domain: its names, where its certificate comes from, and
// its TLS policy.
func (d *DistributionConfig) checkDomain(tls string) error {
	zone := d.HostedZoneID != "" || d.HostedZoneName != ""
	if zone && (d.HostedZoneID == "" || d.HostedZoneName == "") {
		return fmt.Errorf("context %q and %q: set both or neither", ContextHostedZoneID, ContextHostedZoneName)
	}
	if d.HostedZoneID != "" && !hostedZoneIDPattern.MatchString(d.HostedZoneID) {
		return fmt.Errorf("context %q: %q is not a Route 53 hosted zone id (like Z0123456789ABCDEFGHIJ)", ContextHostedZoneID, d.HostedZoneID)
	}
	if d.HostedZoneName != "" && !domainNamePattern.MatchString(d.HostedZoneName) {
		return fmt.Errorf("context %q: %q is not a domain name", ContextHostedZoneName, d.HostedZoneName)
	}
	if d.CertificateArn != "" {
		m := certificateArnPattern.FindStringSubmatch(d.CertificateArn)
		if m == nil {
			return fmt.Errorf("context %q: %q is not an ACM certificate ARN (arn:aws:acm:us-east-1:ACCOUNT:certificate/ID)", ContextCertificateArn, d.CertificateArn)
		}
		if m[1] != EdgeRegion {
			return fmt.Errorf("context %q: the certificate is in %s; CloudFront accepts only certificates in us-east-1", ContextCertificateArn, m[1])
		}
	}
	if len(d.DomainNames) == 0 {
		for key, set := range map[string]bool{ContextCertificateArn: d.CertificateArn != "", ContextHostedZoneID: zone, ContextMinimumTLSVersion: tls != ""} {
			if set {
				return fmt.Errorf("context %q: needs %q (the default *.cloudfront.net name has CloudFront's own certificate and TLS policy)", key, ContextDomainNames)
			}
		}
		return nil
	}
	if d.CertificateArn == "" && !zone {
		return fmt.Errorf("context %q: needs a certificate: %q (ACM, us-east-1), or %q and %q to have one created and validated in that Route 53 zone",
			ContextDomainNames, ContextCertificateArn, ContextHostedZoneID, ContextHostedZoneName)
	}
	if zone {
		for _, name := range d.DomainNames {
			bare := strings.TrimPrefix(name, "*.")
			if bare != d.HostedZoneName && !strings.HasSuffix(bare, "."+d.HostedZoneName) {
				return fmt.Errorf("context %q: %q is not in the hosted zone %q (%q)", ContextDomainNames, name, d.HostedZoneName, ContextHostedZoneName)
			}
		}
	}
	d.MinimumTLSVersion = DefaultTLSVersion
	if tls != "" {
		if !slices.Contains(TLSVersions, tls) {
			return fmt.Errorf("context %q: %q is not a CloudFront security policy; valid: %s", ContextMinimumTLSVersion, tls, strings.Join(TLSVersions, ", "))
		}
		d.MinimumTLSVersion = tls
	}
	return nil
}

func parseBool(key, v string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fmt.Errorf("context %q: want true or false, got %q", key, v)
}

// parseCountries reads a list of ISO 3166-1 alpha-2 codes, in any case.
func parseCountries(key, v string) ([]string, error) {
	codes, err := parseList(key, strings.ToUpper(v))
	if err != nil {
		return nil, err
	}
	for _, code := range codes {
		if !slices.Contains(strings.Fields(iso3166Alpha2), code) {
			return nil, fmt.Errorf("context %q: %q is not an ISO 3166-1 alpha-2 country code (like DE, US, GB)", key, code)
		}
	}
	return codes, nil
}

// iso3166Alpha2 holds the 249 officially assigned ISO 3166-1 alpha-2 codes, space separated,
// which is what CloudFront's geo restriction accepts.
const iso3166Alpha2 = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA " +
	"RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
