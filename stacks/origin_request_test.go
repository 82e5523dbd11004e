package stacks_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const secretName = "backtoorigin/source-hmac"

// signingFunction is the origin-request function of the edge stack, with its logical id.
func signingFunction(t *testing.T, tmpl map[string]any) (string, map[string]any) {
	t.Helper()
	for id, r := range resources(t, tmpl, "AWS::Lambda::Function") {
		if p := properties(t, r); p["Handler"] == "origin-request.handler" {
			return id, p
		}
	}
	t.Fatal("no origin-request function in the edge stack")
	return "", nil
}

// associations are the default behavior's Lambda@Edge associations by event type, as JSON.
func associations(t *testing.T, tmpl map[string]any) map[string]string {
	t.Helper()
	behavior := at[map[string]any](t, only(t, tmpl, "AWS::CloudFront::Distribution"), "DistributionConfig", "DefaultCacheBehavior")
	out := map[string]string{}
	assocs, _ := behavior["LambdaFunctionAssociations"].([]any)
	for _, a := range assocs {
		out[at[string](t, a, "EventType")] = jsonOf(at[any](t, a, "LambdaFunctionARN"))
	}
	return out
}

// weakReader returns the logical id of the weak import reading parameter.
func weakReader(t *testing.T, tmpl map[string]any, parameter string) string {
	t.Helper()
	for id, r := range resources(t, tmpl, "Custom::WeakImport") {
		if call, _ := properties(t, r)["Create"].(string); strings.Contains(call, parameter) {
			return id
		}
	}
	t.Fatalf("no weak import of %s", parameter)
	return ""
}

func TestSigningFunctionOnlyWithAnHMACSecret(t *testing.T) {
	// GIVEN the default app (a public source)
	s := defaults(t)
	// THEN there is no signing function and only the origin-response association
	for _, r := range resources(t, s.edgeJSON, "AWS::Lambda::Function") {
		if properties(t, r)["Handler"] == "origin-request.handler" {
			t.Error("a public source got a signing function")
		}
	}
	if got := associations(t, s.mainJSON); len(got) != 1 || got["origin-response"] == "" {
		t.Errorf("associations = %v", got)
	}
}

func TestSigningFunctionIsAnEdgeFunctionAssociatedOnOriginRequestAndMayReadOneSecret(t *testing.T) {
	// GIVEN a private source with its HMAC secret named
	s := synth(t, map[string]string{"sourceHmacSecret": secretName, "region": "eu-west-1"})
	id, fn := signingFunction(t, s.edgeJSON)

	// THEN it follows the Lambda@Edge rules
	if timeout, _ := lookup[float64](fn, "Timeout"); fn["Runtime"] != "nodejs22.x" || fn["MemorySize"] != float64(128) || timeout == 0 || timeout > 30 {
		t.Errorf("function = %v", fn)
	}
	if arch := jsonOf(fn["Architectures"]); fn["Architectures"] != nil && arch != `["x86_64"]` {
		t.Errorf("architectures = %s", arch)
	}
	if fn["Environment"] != nil {
		t.Errorf("Lambda@Edge allows no environment variables: %v", fn["Environment"])
	}
	// AND its bundle is the handler and its baked settings, small
	dir := filepath.Join(s.outdir, "asset."+strings.TrimSuffix(at[string](t, fn, "Code", "S3Key"), ".zip"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var size int64
	for _, e := range entries {
		info, _ := e.Info()
		names, size = append(names, e.Name()), size+info.Size()
	}
	if !slices.Equal(names, []string{"origin-request.mjs", "origin-request.settings.mjs"}) || size > 20*1024 {
		t.Errorf("bundle = %v, %d bytes", names, size)
	}
	baked, _ := os.ReadFile(filepath.Join(dir, "origin-request.settings.mjs"))
	for _, want := range []string{`"sourceDomainName": "storage.googleapis.com"`, `"sourceRegion": "auto"`, `"secretId": "` + secretName + `"`, `"secretRegion": "eu-west-1"`} {
		if !strings.Contains(string(baked), want) {
			t.Errorf("baked settings lack %s:\n%s", want, baked)
		}
	}

	// AND its role may read that one secret, and write its logs, and nothing else
	var actions []string
	for _, p := range resources(t, s.edgeJSON, "AWS::IAM::Policy") {
		props := properties(t, p)
		if !strings.Contains(jsonOf(props["Roles"]), "OriginRequestRole") {
			continue
		}
		for _, st := range at[[]any](t, props, "PolicyDocument", "Statement") {
			st := at[map[string]any](t, st)
			acts := asStrings(st["Action"])
			actions = append(actions, acts...)
			if slices.Contains(acts, "secretsmanager:GetSecretValue") {
				res := jsonOf(st["Resource"])
				if len(acts) != 1 || !strings.Contains(res, ":secretsmanager:eu-west-1:") || !strings.Contains(res, ":secret:"+secretName+"-??????") || strings.Count(res, "secret:") != 1 {
					t.Errorf("secret statement = %v on %s", acts, res)
				}
			}
		}
	}
	slices.Sort(actions)
	if want := []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"}; !slices.Equal(actions, want) {
		t.Errorf("role actions = %v, want %v", actions, want)
	}

	// AND the distribution runs it on origin requests, through the weakly carried version
	got := associations(t, s.mainJSON)
	reader := weakReader(t, s.mainJSON, "/BackToOriginEdge/OriginRequestVersion")
	if want := `{"Fn::GetAtt":["` + reader + `","Parameter.Value"]}`; got["origin-request"] != want || got["origin-response"] == "" {
		t.Errorf("associations = %v, want origin-request %s", got, want)
	}
	if !strings.HasPrefix(id, "OriginRequest") {
		t.Errorf("function id %s", id)
	}
	assertNoNagErrors(t, s)
}

func TestSigningFunctionReadsTheSecretInTheRegionOfItsARN(t *testing.T) {
	arn := "arn:aws:secretsmanager:eu-central-1:111122223333:secret:gcs-hmac-AbCdEf"
	s := synth(t, map[string]string{"sourceHmacSecret": arn})
	if !strings.Contains(jsonOf(s.edgeJSON["Resources"]), `"Resource":"`+arn+`"`) {
		t.Errorf("the role does not name exactly %s", arn)
	}
}

func TestChangingTheSigningFunctionRenamesNoImport(t *testing.T) {
	// GIVEN two deploys whose signing settings differ, so its version changes
	first := synth(t, map[string]string{"sourceHmacSecret": secretName, "sourceRegion": "auto"})
	second := synth(t, map[string]string{"sourceHmacSecret": secretName, "sourceRegion": "us-east-1"})
	versions := func(s *synthesized) []string { return logicalIDs(t, s.edgeJSON, "AWS::Lambda::Version") }
	if slices.Equal(versions(first), versions(second)) {
		t.Fatalf("no new version (%v): the test would prove nothing", versions(first))
	}
	// THEN the main stack imports no export, before or after, and reads both versions through
	// the same readers, told to read again
	for name, s := range map[string]*synthesized{"first": first, "second": second} {
		if got := importedNames(t, s.mainJSON); len(got) != 0 {
			t.Errorf("%s: imports %v", name, got)
		}
	}
	if a, b := logicalIDs(t, first.mainJSON, "Custom::WeakImport"), logicalIDs(t, second.mainJSON, "Custom::WeakImport"); !slices.Equal(a, b) || len(a) != 2 {
		t.Errorf("weak imports %v then %v", a, b)
	}
	refreshToken := func(s *synthesized) any {
		reader := resources(t, s.mainJSON, "Custom::WeakImport")[weakReader(t, s.mainJSON, "OriginRequestVersion")]
		return at[any](t, reader, "Properties", "RefreshToken")
	}
	r1, r2 := refreshToken(first), refreshToken(second)
	if r1 == r2 {
		t.Errorf("the signing reader's refresh token did not change (%v): the new version would not be read", r1)
	}
	if a, b := logicalIDs(t, first.mainJSON, "AWS::CloudFront::Distribution"), logicalIDs(t, second.mainJSON, "AWS::CloudFront::Distribution"); !slices.Equal(a, b) {
		t.Errorf("distribution replaced: %v then %v", a, b)
	}
}
