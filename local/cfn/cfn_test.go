package cfn_test

import (
	"strings"
	"testing"

	"github.com/backtoorigin/backtoorigin/local/cfn"
)

// template is a minimal distribution whose default behavior targets target.
func template(target string) string {
	return `{"Resources":{"D":{"Type":"AWS::CloudFront::Distribution","Properties":{"DistributionConfig":{
		"Origins":[{"Id":"s3","S3OriginConfig":{}},{"Id":"gcs","CustomOriginConfig":{}}],
		"OriginGroups":{"Items":[{"Id":"group","FailoverCriteria":{"StatusCodes":{"Items":[403,404]}},"Members":{"Items":[{"OriginId":"s3"},{"OriginId":"gcs"}]}}]},
		"DefaultCacheBehavior":{"TargetOriginId":"` + target + `","AllowedMethods":["GET","HEAD"],
			"LambdaFunctionAssociations":[{"EventType":"origin-response"}]},
		"CustomErrorResponses":[{"ErrorCode":404,"ErrorCachingMinTTL":10}]}}}}}`
}

func TestParseTellsFailoverFromS3Alone(t *testing.T) {
	d, err := cfn.Parse([]byte(template("group")))
	if err != nil {
		t.Fatal(err)
	}
	if !d.FailoverToGCS || len(d.FailoverCodes) != 2 || d.ErrorCachingTTL[404] != 10 || !d.OriginResponse || d.CORS != nil {
		t.Errorf("origin group: %+v", d)
	}
	d, err = cfn.Parse([]byte(template("s3")))
	if err != nil {
		t.Fatal(err)
	}
	if d.FailoverToGCS {
		t.Errorf("behavior on the bucket alone read as failover: %+v", d)
	}
	if _, err := cfn.Parse([]byte(template("elsewhere"))); err == nil || !strings.Contains(err.Error(), "elsewhere") {
		t.Errorf("unknown target: %v", err)
	}
	if _, err := cfn.Parse([]byte(`{"Resources":{}}`)); err == nil {
		t.Error("a template without a distribution parsed")
	}
}
