package stacks_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func distributionConfig(t *testing.T, s *synthesized) map[string]any {
	t.Helper()
	return at[map[string]any](t, only(t, s.mainJSON, "AWS::CloudFront::Distribution"), "DistributionConfig")
}

// nagSuppressed lists the cdk-nag rules suppressed on the distribution.
func nagSuppressed(t *testing.T, s *synthesized) []string {
	t.Helper()
	var ids []string
	for _, r := range resources(t, s.mainJSON, "AWS::CloudFront::Distribution") {
		meta, _ := r["Metadata"].(map[string]any)
		nag, _ := meta["cdk_nag"].(map[string]any)
		rules, _ := nag["rules_to_suppress"].([]any)
		for _, rule := range rules {
			rule := at[map[string]any](t, rule)
			if reason, _ := rule["reason"].(string); reason == "" {
				t.Errorf("suppression %v has no reason", rule["id"])
			}
			ids = append(ids, at[string](t, rule, "id"))
		}
	}
	slices.Sort(ids)
	return ids
}

func TestDefaultDistributionHasNoDomainWAFGeoOrLogsAndSaysWhy(t *testing.T) {
	s := defaults(t)
	dist := distributionConfig(t, s)
	for _, key := range []string{"Aliases", "WebACLId", "Restrictions", "Logging"} {
		if v, ok := dist[key]; ok {
			t.Errorf("default distribution sets %s = %v", key, v)
		}
	}
	if got := nagSuppressed(t, s); !slices.Equal(got, []string{"AwsSolutions-CFR1", "AwsSolutions-CFR2", "AwsSolutions-CFR3", "AwsSolutions-CFR4"}) {
		t.Errorf("suppressed = %v, want CFR1-CFR4, each with the setting that turns it on", got)
	}
	if _, ok := at[map[string]any](t, dist, "DefaultCacheBehavior")["ResponseHeadersPolicyId"]; ok {
		t.Error("a response headers policy without corsAllowOrigins")
	}
	if ids := logicalIDs(t, s.mainJSON, "AWS::Route53::RecordSet"); len(ids) != 0 {
		t.Errorf("records %v without a hosted zone", ids)
	}
}

func TestCustomDomainWithTheOwnersCertificate(t *testing.T) {
	// GIVEN a domain with a certificate in us-east-1, a TLS policy and an allow list of countries
	s := synth(t, map[string]string{"domainNames": "assets.example.com,media.example.com", "certificateArn": testCertificateArn,
		"minimumTlsVersion": "TLSv1.2_2025", "geoAllow": "de,at"})
	dist := distributionConfig(t, s)
	// THEN viewers reach the distribution under those names with that certificate and policy
	if got := asStrings(dist["Aliases"]); !slices.Equal(got, []string{"assets.example.com", "media.example.com"}) {
		t.Errorf("aliases = %v", got)
	}
	cert := at[map[string]any](t, dist, "ViewerCertificate")
	if cert["AcmCertificateArn"] != testCertificateArn || cert["SslSupportMethod"] != "sni-only" || cert["MinimumProtocolVersion"] != "TLSv1.2_2025" {
		t.Errorf("viewer certificate = %v", cert)
	}
	// AND only those countries are served
	geo := at[map[string]any](t, dist, "Restrictions", "GeoRestriction")
	if geo["RestrictionType"] != "whitelist" || !slices.Equal(asStrings(geo["Locations"]), []string{"DE", "AT"}) {
		t.Errorf("geo restriction = %v", geo)
	}
	// AND nothing is issued or read from the edge stack for it, and no DNS record is written
	if n := len(logicalIDs(t, s.edgeJSON, "AWS::CertificateManager::Certificate")); n != 0 {
		t.Errorf("edge stack issues %d certificates although one was given", n)
	}
	if n := len(logicalIDs(t, s.mainJSON, "Custom::WeakImport")); n != 1 {
		t.Errorf("%d weak imports, want only the edge version's", n)
	}
	if n := len(logicalIDs(t, s.mainJSON, "AWS::Route53::RecordSet")); n != 0 {
		t.Errorf("%d records without a hosted zone", n)
	}
	// AND the TLS and geo suppressions are gone: the rules pass on their own
	if got := nagSuppressed(t, s); !slices.Equal(got, []string{"AwsSolutions-CFR2", "AwsSolutions-CFR3"}) {
		t.Errorf("suppressed = %v, want only CFR2 (WAF) and CFR3 (logs)", got)
	}
	assertNoNagErrors(t, s)
}

func TestCustomDomainFromAHostedZoneGetsACertificateInUSEast1AndAliasRecords(t *testing.T) {
	zone := map[string]string{"domainNames": "assets.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com"}
	first := synth(t, zone)
	// THEN the edge stack (us-east-1) issues a DNS-validated certificate in the zone
	cert := only(t, first.edgeJSON, "AWS::CertificateManager::Certificate")
	if cert["DomainName"] != "assets.example.com" || cert["ValidationMethod"] != "DNS" ||
		!strings.Contains(jsonOf(cert["DomainValidationOptions"]), `"HostedZoneId":"Z0123456789ABCDEFGHIJ"`) {
		t.Errorf("certificate = %v", cert)
	}
	// AND publishes its ARN under a fixed parameter name, which the main stack reads back
	params := map[string]map[string]any{}
	for _, p := range resources(t, first.edgeJSON, "AWS::SSM::Parameter") {
		props := properties(t, p)
		params[at[string](t, props, "Name")] = props
	}
	certID := onlyID(t, first.edgeJSON, "AWS::CertificateManager::Certificate")
	if p, ok := params["/BackToOriginEdge/Certificate"]; !ok || jsonOf(p["Value"]) != `{"Ref":"`+certID+`"}` {
		t.Errorf("certificate parameter = %v (parameters %v)", p, slices.Sorted(maps.Keys(params)))
	}
	readers := map[string]string{}
	for id, r := range resources(t, first.mainJSON, "Custom::WeakImport") {
		readers[id] = at[string](t, properties(t, r), "Create")
	}
	var certReader string
	for id, call := range readers {
		if strings.Contains(call, "/BackToOriginEdge/Certificate") {
			certReader = id
		}
	}
	dist := distributionConfig(t, first)
	viewerCertificate := at[map[string]any](t, dist, "ViewerCertificate")
	if got, want := jsonOf(viewerCertificate["AcmCertificateArn"]), `{"Fn::GetAtt":["`+certReader+`","Parameter.Value"]}`; certReader == "" || got != want {
		t.Errorf("certificate ARN = %s, want the weak import %s", got, want)
	}
	if viewerCertificate["MinimumProtocolVersion"] != "TLSv1.2_2021" {
		t.Errorf("default TLS policy = %v", dist["ViewerCertificate"])
	}
	// AND A and AAAA alias records point the name at the distribution
	types := map[string]bool{}
	for _, r := range resources(t, first.mainJSON, "AWS::Route53::RecordSet") {
		p := properties(t, r)
		if p["Name"] != "assets.example.com." || p["HostedZoneId"] != "Z0123456789ABCDEFGHIJ" ||
			!strings.Contains(jsonOf(p["AliasTarget"]), "DomainName") {
			t.Errorf("record = %v", p)
		}
		types[at[string](t, p, "Type")] = true
	}
	if !types["A"] || !types["AAAA"] || len(types) != 2 {
		t.Errorf("record types = %v, want A and AAAA", types)
	}
	assertNoNagErrors(t, first)

	// GIVEN another name added later, which replaces the certificate
	zone["domainNames"] = "assets.example.com,fonts.example.com"
	second := synth(t, zone)
	// THEN the main stack still imports nothing by export, re-reads the parameter (a new
	// refresh token), and keeps its distribution and the first name's records
	for name, s := range map[string]*synthesized{"first": first, "second": second} {
		if got := importedNames(t, s.mainJSON); len(got) != 0 {
			t.Errorf("%s: main stack imports %v", name, got)
		}
	}
	token := func(s *synthesized) any {
		for _, r := range resources(t, s.mainJSON, "Custom::WeakImport") {
			if p := properties(t, r); strings.Contains(at[string](t, p, "Create"), "/BackToOriginEdge/Certificate") {
				return p["RefreshToken"]
			}
		}
		return nil
	}
	if a, b := token(first), token(second); a == nil || a == b {
		t.Errorf("certificate reader refresh token %v then %v: the new certificate would not be read", a, b)
	}
	if a, b := logicalIDs(t, first.mainJSON, "AWS::CloudFront::Distribution"), logicalIDs(t, second.mainJSON, "AWS::CloudFront::Distribution"); !slices.Equal(a, b) {
		t.Errorf("distribution %v then %v", a, b)
	}
	firstRecords := logicalIDs(t, first.mainJSON, "AWS::Route53::RecordSet")
	if secondRecords := logicalIDs(t, second.mainJSON, "AWS::Route53::RecordSet"); len(secondRecords) != 4 || !containsAllOf(secondRecords, firstRecords) {
		t.Errorf("records %v then %v: the first name's records must stay", firstRecords, secondRecords)
	}
}

func containsAllOf(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func TestWebACLPriceClassGeoDenyAndAccessLogs(t *testing.T) {
	s := synth(t, map[string]string{"webAclArn": testWebACLArn, "priceClass": "PriceClass_100", "geoDeny": "RU,by", "accessLogs": "true"})
	dist := distributionConfig(t, s)
	if dist["WebACLId"] != testWebACLArn {
		t.Errorf("web ACL = %v", dist["WebACLId"])
	}
	if dist["PriceClass"] != "PriceClass_100" {
		t.Errorf("price class = %v", dist["PriceClass"])
	}
	geo := at[map[string]any](t, dist, "Restrictions", "GeoRestriction")
	if geo["RestrictionType"] != "blacklist" || !slices.Equal(asStrings(geo["Locations"]), []string{"RU", "BY"}) {
		t.Errorf("geo restriction = %v", geo)
	}
	// Standard logs go to a bucket of the stack that has ACLs enabled, as CloudFront needs.
	logging := at[map[string]any](t, dist, "Logging")
	bucketRef := jsonOf(logging["Bucket"])
	var logBucket map[string]any
	for id, b := range resources(t, s.mainJSON, "AWS::S3::Bucket") {
		if strings.Contains(bucketRef, `"`+id+`"`) {
			logBucket = b
		}
	}
	if logBucket == nil || !strings.Contains(bucketRef, "RegionalDomainName") {
		t.Fatalf("logging = %v, not to a bucket of the stack", logging)
	}
	props := properties(t, logBucket)
	if got := jsonOf(props["OwnershipControls"]); got != `{"Rules":[{"ObjectOwnership":"ObjectWriter"}]}` {
		t.Errorf("log bucket ownership = %s, want ObjectWriter (ACLs enabled)", got)
	}
	if !strings.Contains(jsonOf(props["PublicAccessBlockConfiguration"]), `"BlockPublicAcls":true`) ||
		!strings.Contains(jsonOf(props["LifecycleConfiguration"]), `"ExpirationInDays":90`) {
		t.Errorf("log bucket = %v", props)
	}
	if logBucket["DeletionPolicy"] != "Retain" {
		t.Errorf("log bucket deletion policy = %v", logBucket["DeletionPolicy"])
	}
	if got := nagSuppressed(t, s); !slices.Equal(got, []string{"AwsSolutions-CFR4"}) {
		t.Errorf("suppressed = %v, want only CFR4 (no custom domain)", got)
	}
	assertNoNagErrors(t, s)
}

func TestCORSPolicyAnswersAlikeForBothOriginsAndS3AnswersPreflights(t *testing.T) {
	s := synth(t, map[string]string{"corsAllowOrigins": "https://app.example.com,http://localhost:8080"})
	behavior := at[map[string]any](t, distributionConfig(t, s), "DefaultCacheBehavior")
	// THEN the default behavior adds CORS headers from a response headers policy, overriding
	// whatever GCS or S3 sent
	policyID := onlyID(t, s.mainJSON, "AWS::CloudFront::ResponseHeadersPolicy")
	if got := jsonOf(behavior["ResponseHeadersPolicyId"]); got != `{"Ref":"`+policyID+`"}` {
		t.Errorf("response headers policy = %s", got)
	}
	cors := at[map[string]any](t, only(t, s.mainJSON, "AWS::CloudFront::ResponseHeadersPolicy"), "ResponseHeadersPolicyConfig", "CorsConfig")
	items := func(key string) []string { return asStrings(at[any](t, cors, key, "Items")) }
	if !slices.Equal(items("AccessControlAllowOrigins"), []string{"https://app.example.com", "http://localhost:8080"}) ||
		!slices.Equal(items("AccessControlAllowMethods"), []string{"GET", "HEAD", "OPTIONS"}) ||
		cors["OriginOverride"] != true || cors["AccessControlAllowCredentials"] != false {
		t.Errorf("CORS config = %v", cors)
	}
	// AND the CORS request headers reach the origin (outside the cache key), so S3 sees a
	// preflight as one
	requestID := onlyID(t, s.mainJSON, "AWS::CloudFront::OriginRequestPolicy")
	if got := jsonOf(behavior["OriginRequestPolicyId"]); got != `{"Ref":"`+requestID+`"}` {
		t.Errorf("origin request policy = %s", got)
	}
	headers := at[map[string]any](t, only(t, s.mainJSON, "AWS::CloudFront::OriginRequestPolicy"), "OriginRequestPolicyConfig", "HeadersConfig")
	if got := asStrings(headers["Headers"]); headers["HeaderBehavior"] != "whitelist" ||
		!slices.Equal(got, []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}) {
		t.Errorf("forwarded headers = %v", headers)
	}
	if !slices.Contains(asStrings(behavior["CachedMethods"]), "OPTIONS") {
		t.Errorf("cached methods = %v", behavior["CachedMethods"])
	}
	// AND the bucket answers preflights for the same origins, for any key
	var rules []any
	for _, b := range resources(t, s.mainJSON, "AWS::S3::Bucket") {
		if c, ok := properties(t, b)["CorsConfiguration"]; ok {
			rules = at[[]any](t, c, "CorsRules")
		}
	}
	if len(rules) != 1 {
		t.Fatalf("bucket CORS rules = %v", rules)
	}
	rule := at[map[string]any](t, rules, 0)
	if !slices.Equal(asStrings(rule["AllowedOrigins"]), []string{"https://app.example.com", "http://localhost:8080"}) ||
		!slices.Equal(asStrings(rule["AllowedMethods"]), []string{"GET", "HEAD"}) || !slices.Equal(asStrings(rule["AllowedHeaders"]), []string{"*"}) {
		t.Errorf("bucket CORS rule = %v", rule)
	}
	assertNoNagErrors(t, s)
}

func TestCutoverServesFromS3AloneAndRollbackRestoresTheFailoverInPlace(t *testing.T) {
	context := func(cutover string) map[string]string {
		return map[string]string{"cutover": cutover, "corsAllowOrigins": "*", "sourceLocation": "us-central1"}
	}
	before := synth(t, context("false"))
	cut := synth(t, context("true"))
	rolledBack := synth(t, context("false"))

	dist := distributionConfig(t, cut)
	behavior := at[map[string]any](t, dist, "DefaultCacheBehavior")
	// THEN after the cutover S3 is the only origin, with no origin group and no origin-response
	// function: GCS is never contacted and a missing key is S3's 404
	origins := at[[]any](t, dist, "Origins")
	if s3, _ := lookup[any](origins, 0, "S3OriginConfig"); len(origins) != 1 || s3 == nil {
		t.Fatalf("origins = %v, want the bucket alone", origins)
	}
	if _, ok := dist["OriginGroups"]; ok {
		t.Errorf("origin groups = %v", dist["OriginGroups"])
	}
	if behavior["TargetOriginId"] != at[any](t, origins, 0, "Id") {
		t.Errorf("default behavior targets %v", behavior["TargetOriginId"])
	}
	if assocs, ok := behavior["LambdaFunctionAssociations"]; ok {
		t.Errorf("Lambda@Edge associations = %v", assocs)
	}
	if strings.Contains(jsonOf(dist), "storage.googleapis.com") {
		t.Error("the distribution still names GCS after the cutover")
	}
	// AND the viewer-request function, the CORS policy and the error caching stay
	beforeBehavior := at[map[string]any](t, distributionConfig(t, before), "DefaultCacheBehavior")
	for _, key := range []string{"FunctionAssociations", "ResponseHeadersPolicyId", "OriginRequestPolicyId", "CachePolicyId", "ViewerProtocolPolicy"} {
		if a, b := jsonOf(beforeBehavior[key]), jsonOf(behavior[key]); a != b || a == "null" {
			t.Errorf("%s: %s before, %s after the cutover", key, a, b)
		}
	}
	if a, b := jsonOf(distributionConfig(t, before)["CustomErrorResponses"]), jsonOf(dist["CustomErrorResponses"]); a != b {
		t.Errorf("error responses %s then %s", a, b)
	}
	// AND it is the same distribution, the same bucket and queues, and the same outputs, and no
	// stack imports a name that could change: both directions redeploy in place
	for _, typ := range []string{"AWS::CloudFront::Distribution", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::CloudFront::Function", "Custom::WeakImport", "AWS::CloudFront::OriginAccessControl"} {
		a, b, c := logicalIDs(t, before.mainJSON, typ), logicalIDs(t, cut.mainJSON, typ), logicalIDs(t, rolledBack.mainJSON, typ)
		if len(a) == 0 || !slices.Equal(a, b) || !slices.Equal(a, c) {
			t.Errorf("%s logical ids: %v, cut over %v, rolled back %v", typ, a, b, c)
		}
	}
	for name, s := range map[string]*synthesized{"before": before, "cut over": cut, "rolled back": rolledBack} {
		if got := importedNames(t, s.mainJSON); len(got) != 0 {
			t.Errorf("%s: main stack imports %v", name, got)
		}
		outputs := at[map[string]any](t, s.mainJSON, "Outputs")
		if got := slices.Sorted(maps.Keys(outputs)); !slices.Equal(got, slices.Sorted(maps.Keys(at[map[string]any](t, before.mainJSON, "Outputs")))) {
			t.Errorf("%s: outputs %v", name, got)
		}
		for id, o := range outputs {
			if _, ok := at[map[string]any](t, o)["Export"]; ok {
				t.Errorf("%s: output %s is exported; an export in use blocks changing it", name, id)
			}
		}
		assertNoNagErrors(t, s)
	}
	// AND the edge stack is untouched, so rolling back needs no new function version
	if a, b := jsonOf(before.edgeJSON["Resources"]), jsonOf(cut.edgeJSON["Resources"]); a != b {
		t.Error("the cutover changed the edge stack")
	}
	// AND rolling back restores exactly the failover distribution
	if a, b := jsonOf(distributionConfig(t, before)), jsonOf(distributionConfig(t, rolledBack)); a != b {
		t.Errorf("rolled back distribution differs:\n%s\n%s", a, b)
	}
	if groups := at[map[string]any](t, distributionConfig(t, rolledBack), "OriginGroups"); groups["Quantity"] != float64(1) {
		t.Errorf("rolled back origin groups = %v", groups)
	}
}
