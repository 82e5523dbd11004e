package cfn_test

import (
	"os"
	"path/filepath"
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

// An origin-request association is followed from the main stack's weak
// import to the edge stack's parameter, version, function and asset folder.
func TestLoadAppFindsTheOriginRequestBundle(t *testing.T) {
	dir := t.TempDir()
	main := strings.Replace(template("group"), `"LambdaFunctionAssociations":[{"EventType":"origin-response"}]`,
		`"LambdaFunctionAssociations":[{"EventType":"origin-response"},{"EventType":"origin-request","LambdaFunctionARN":{"Fn::GetAtt":["Import","Parameter.Value"]}}]`, 1)
	main = strings.Replace(main, `"Resources":{`, `"Resources":{"Import":{"Type":"Custom::WeakImport","Properties":{"Create":"{\"action\":\"getParameter\",\"parameters\":{\"Name\":\"/Edge/OriginRequestVersion\"}}"}},`, 1)
	main = strings.Replace(main, `{"Id":"gcs","CustomOriginConfig":{}}`, `{"Id":"gcs","DomainName":"private.example.com","CustomOriginConfig":{}}`, 1)
	edge := `{"Resources":{
		"P":{"Type":"AWS::SSM::Parameter","Properties":{"Name":"/Edge/OriginRequestVersion","Value":{"Ref":"V"}}},
		"V":{"Type":"AWS::Lambda::Version","Properties":{"FunctionName":{"Ref":"F"}}},
		"F":{"Type":"AWS::Lambda::Function","Properties":{"Handler":"origin-request.handler","Code":{"S3Key":"abc123.zip"}}}}}`
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Main.template.json", main)
	write("Edge.template.json", edge)
	if _, err := cfn.LoadApp(dir, "Main"); err == nil || !strings.Contains(err.Error(), "asset.abc123") {
		t.Errorf("missing asset folder: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "asset.abc123"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := cfn.LoadApp(dir, "Main")
	if err != nil {
		t.Fatal(err)
	}
	if fn := d.OriginRequest; fn == nil || fn.Parameter != "/Edge/OriginRequestVersion" || fn.Bundle != filepath.Join(dir, "asset.abc123") || fn.Handler != "origin-request.handler" {
		t.Errorf("origin-request function: %+v", fn)
	}
	if d.SourceDomainName != "private.example.com" {
		t.Errorf("source domain %q", d.SourceDomainName)
	}
	write("Edge.template.json", strings.Replace(edge, "/Edge/OriginRequestVersion", "/Other", 1))
	if _, err := cfn.LoadApp(dir, "Main"); err == nil || !strings.Contains(err.Error(), "/Edge/OriginRequestVersion") {
		t.Errorf("parameter nowhere: %v", err)
	}
	if d, err := cfn.Parse([]byte(template("group"))); err != nil || d.OriginRequest != nil {
		t.Errorf("no origin-request association: %+v, %v", d, err)
	}
}
