package stacks_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/backtoorigin/backtoorigin/stacks"
)

const (
	testCertificateArn = "arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"
	testWebACLArn      = "arn:aws:wafv2:us-east-1:111122223333:global/webacl/assets/12345678-1234-1234-1234-123456789012"
)

func TestDistributionSettingsRejectBadValuesNamingTheKeyAndTheValidOnes(t *testing.T) {
	zone := map[string]string{"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com"}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name    string
		context map[string]string
		want    []string
	}{
		{"a domain without a certificate", with(nil, "domainNames", "assets.example.com"), []string{`"domainNames"`, `"certificateArn"`, `"hostedZoneId"`}},
		{"not a domain name", with(nil, "domainNames", "assets..example.com", "certificateArn", testCertificateArn), []string{`"domainNames"`, "assets..example.com"}},
		{"a certificate outside us-east-1", with(nil, "domainNames", "assets.example.com", "certificateArn", strings.Replace(testCertificateArn, "us-east-1", "eu-west-1", 1)),
			[]string{`"certificateArn"`, "eu-west-1", "only certificates in us-east-1"}},
		{"not a certificate ARN", with(nil, "domainNames", "assets.example.com", "certificateArn", "arn:aws:iam::111122223333:server-certificate/x"), []string{`"certificateArn"`, "arn:aws:acm:us-east-1:ACCOUNT:certificate/ID"}},
		{"a certificate without a domain", with(nil, "certificateArn", testCertificateArn), []string{`"certificateArn"`, `"domainNames"`}},
		{"a zone id without its name", with(nil, "domainNames", "assets.example.com", "hostedZoneId", "Z0123456789ABCDEFGHIJ"), []string{`"hostedZoneId"`, `"hostedZoneName"`, "both"}},
		{"not a zone id", with(zone, "domainNames", "assets.example.com", "hostedZoneId", "zone-1"), []string{`"hostedZoneId"`, "zone-1"}},
		{"a name outside the zone", with(zone, "domainNames", "assets.example.org"), []string{`"domainNames"`, "assets.example.org", "example.com"}},
		{"a zone without a domain", zone, []string{`"hostedZoneId"`, `"domainNames"`}},
		{"a TLS version without a domain", with(nil, "minimumTlsVersion", "TLSv1.2_2021"), []string{`"minimumTlsVersion"`, `"domainNames"`}},
		{"an unknown TLS version", with(zone, "domainNames", "assets.example.com", "minimumTlsVersion", "TLSv1.2"), []string{`"minimumTlsVersion"`, "TLSv1.2_2021", "TLSv1.3_2025"}},
		{"a regional web ACL", with(nil, "webAclArn", strings.Replace(testWebACLArn, "global/", "regional/", 1)), []string{`"webAclArn"`, "CLOUDFRONT", "us-east-1"}},
		{"a global web ACL outside us-east-1", with(nil, "webAclArn", strings.Replace(testWebACLArn, "us-east-1", "eu-west-1", 1)), []string{`"webAclArn"`, "global/webacl"}},
		{"a WAF Classic id", with(nil, "webAclArn", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"), []string{`"webAclArn"`}},
		{"an unknown price class", with(nil, "priceClass", "PriceClass_300"), []string{`"priceClass"`, "PriceClass_100", "PriceClass_200", "PriceClass_All"}},
		{"a three-letter country", with(nil, "geoAllow", "DE,USA"), []string{`"geoAllow"`, "USA", "ISO 3166-1 alpha-2"}},
		{"a reserved code that is no country", with(nil, "geoDeny", "UK"), []string{`"geoDeny"`, "UK"}},
		{"allow and deny", with(nil, "geoAllow", "DE", "geoDeny", "FR"), []string{`"geoAllow"`, `"geoDeny"`, "not both"}},
		{"access logs not a bool", with(nil, "accessLogs", "yes"), []string{`"accessLogs"`, "true or false"}},
		{"cutover not a bool", with(nil, "cutover", "1"), []string{`"cutover"`, "true or false"}},
		{"a CORS origin with a path", with(nil, "corsAllowOrigins", "https://app.example.com/"), []string{`"corsAllowOrigins"`, "scheme://host[:port]"}},
		{"a CORS origin without a scheme", with(nil, "corsAllowOrigins", "app.example.com"), []string{`"corsAllowOrigins"`, "app.example.com"}},
		{"* with other origins", with(nil, "corsAllowOrigins", "*,https://app.example.com"), []string{`"corsAllowOrigins"`, `"*"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := stacks.ParseConfig(tt.context, "", "eu-west-1")
			if err == nil {
				t.Fatalf("want an error, got %+v", cfg.Distribution)
			}
			for _, part := range tt.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not mention %s", err, part)
				}
			}
		})
	}
}

func TestDistributionSettingsParse(t *testing.T) {
	cfg, err := stacks.ParseConfig(map[string]string{
		"domainNames": "Assets.Example.com, *.cdn.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com.",
		"webAclArn": testWebACLArn, "priceClass": "PriceClass_100", "geoAllow": `["de","at","CH"]`, "accessLogs": "true",
		"corsAllowOrigins": "https://app.example.com,http://localhost:8080", "cutover": "true",
	}, "", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Distribution
	if !slices.Equal(d.DomainNames, []string{"assets.example.com", "*.cdn.example.com"}) || d.HostedZoneName != "example.com" {
		t.Errorf("domain = %v in %q", d.DomainNames, d.HostedZoneName)
	}
	if !d.CreatesCertificate() || d.MinimumTLSVersion != "TLSv1.2_2021" {
		t.Errorf("certificate created %v, TLS %q; want created, TLSv1.2_2021 by default", d.CreatesCertificate(), d.MinimumTLSVersion)
	}
	if !slices.Equal(d.GeoAllow, []string{"DE", "AT", "CH"}) || len(d.GeoDeny) != 0 || !d.AccessLogs || !d.Cutover || d.PriceClass != "PriceClass_100" {
		t.Errorf("settings = %+v", d)
	}
	if !slices.Equal(d.CORSAllowOrigins, []string{"https://app.example.com", "http://localhost:8080"}) {
		t.Errorf("CORS origins = %v", d.CORSAllowOrigins)
	}

	// A given certificate with the zone: the zone is used for the records only.
	cfg, err = stacks.ParseConfig(map[string]string{"domainNames": "assets.example.com", "certificateArn": testCertificateArn,
		"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com", "minimumTlsVersion": "TLSv1.3_2025"}, "", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Distribution.CreatesCertificate() || cfg.Distribution.MinimumTLSVersion != "TLSv1.3_2025" {
		t.Errorf("with certificateArn: creates %v, TLS %q", cfg.Distribution.CreatesCertificate(), cfg.Distribution.MinimumTLSVersion)
	}

	cfg, err = stacks.ParseConfig(nil, "", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Distribution; len(d.DomainNames) != 0 || d.Cutover || d.AccessLogs || len(d.CORSAllowOrigins) != 0 || d.MinimumTLSVersion != "" {
		t.Errorf("defaults = %+v", d)
	}
}
