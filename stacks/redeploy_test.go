package stacks_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// importedNames walks a template and returns every name it imports with Fn::ImportValue.
func importedNames(t *testing.T, tmpl map[string]any) []string {
	t.Helper()
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if name, ok := v["Fn::ImportValue"]; ok {
				names = append(names, jsonOf(name))
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(tmpl)
	slices.Sort(names)
	return names
}

func logicalIDs(t *testing.T, tmpl map[string]any, typ string) []string {
	t.Helper()
	return slices.Sorted(maps.Keys(resources(t, tmpl, typ)))
}

// onlyID returns the logical id of the one resource of a type.
func onlyID(t *testing.T, tmpl map[string]any, typ string) string {
	t.Helper()
	ids := logicalIDs(t, tmpl, typ)
	if len(ids) != 1 {
		t.Fatalf("want exactly one %s, got %v", typ, ids)
	}
	return ids[0]
}

// edgeAssociation returns the distribution's origin-response function ARN, as JSON.
func edgeAssociation(t *testing.T, tmpl map[string]any) string {
	t.Helper()
	behavior := at[map[string]any](t, only(t, tmpl, "AWS::CloudFront::Distribution"), "DistributionConfig", "DefaultCacheBehavior")
	assocs, _ := behavior["LambdaFunctionAssociations"].([]any)
	if len(assocs) != 1 {
		t.Fatalf("edge associations = %v, want one", assocs)
	}
	return jsonOf(at[any](t, assocs, 0, "LambdaFunctionARN"))
}

func TestSecondDeployAfterAnEdgeChangeRenamesNothingTheMainStackImports(t *testing.T) {
	for _, region := range []string{"eu-west-1", "us-east-1"} {
		t.Run("main stack in "+region, func(t *testing.T) {
			// GIVEN the app as first deployed, and again after a change baked into the edge bundle
			first := synth(t, map[string]string{"region": region, "includePrefixes": "img/"})
			second := synth(t, map[string]string{"region": region, "includePrefixes": "img/,video/"})

			// THEN the edge function gets a new version
			firstVersion := onlyID(t, first.edgeJSON, "AWS::Lambda::Version")
			secondVersion := onlyID(t, second.edgeJSON, "AWS::Lambda::Version")
			if firstVersion == secondVersion {
				t.Fatalf("the edge change did not publish a new version (%s): the test would prove nothing", firstVersion)
			}
			// AND the app still has two stacks, in their regions
			if got := *second.app.Edge.Region(); got != "us-east-1" {
				t.Errorf("edge stack region = %s", got)
			}
			if got := *second.app.Main.Region(); got != region {
				t.Errorf("main stack region = %s, want %s", got, region)
			}
			// AND the main stack imports nothing through CloudFormation exports, before or after,
			// and no CDK cross-region export reader or writer is left
			for name, s := range map[string]*synthesized{"first": first, "second": second} {
				if got := importedNames(t, s.mainJSON); len(got) != 0 {
					t.Errorf("%s synth: main stack imports %v; an import's name changes with the version", name, got)
				}
				for _, typ := range []string{"Custom::CrossRegionExportReader", "Custom::CrossRegionExportWriter"} {
					if ids := append(logicalIDs(t, s.mainJSON, typ), logicalIDs(t, s.edgeJSON, typ)...); len(ids) != 0 {
						t.Errorf("%s synth: %s %v still present", name, typ, ids)
					}
				}
				if outputs, _ := s.edgeJSON["Outputs"].(map[string]any); len(outputs) != 0 {
					t.Errorf("%s synth: edge stack exports %v", name, slices.Sorted(maps.Keys(outputs)))
				}
			}
			// AND no bucket, queue or distribution is replaced
			for _, typ := range []string{"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::CloudFront::Distribution", "AWS::Lambda::Function", "Custom::WeakImport"} {
				if a, b := logicalIDs(t, first.mainJSON, typ), logicalIDs(t, second.mainJSON, typ); !slices.Equal(a, b) || len(a) == 0 {
					t.Errorf("%s logical ids: %v then %v", typ, a, b)
				}
			}
			// AND the edge stack publishes the new version under the same parameter name
			param := only(t, second.edgeJSON, "AWS::SSM::Parameter")
			if param["Name"] != "/BackToOriginEdge/OriginResponseVersion" {
				t.Errorf("parameter name = %v", param["Name"])
			}
			if value := jsonOf(param["Value"]); value != `{"Ref":"`+secondVersion+`"}` {
				t.Errorf("parameter value = %s, want the new version %s", value, secondVersion)
			}
			// AND the distribution uses what the main stack reads back, and the reader is told
			// to read again because the version changed
			readerID := onlyID(t, second.mainJSON, "Custom::WeakImport")
			if got, want := edgeAssociation(t, second.mainJSON), `{"Fn::GetAtt":["`+readerID+`","Parameter.Value"]}`; got != want {
				t.Errorf("origin-response association = %s, want %s", got, want)
			}
			for name, s := range map[string]*synthesized{firstVersion: first, secondVersion: second} {
				reader := only(t, s.mainJSON, "Custom::WeakImport")
				if reader["RefreshToken"] != name {
					t.Errorf("reader refresh token = %v, want the version's logical id %s", reader["RefreshToken"], name)
				}
				call, _ := reader["Create"].(string)
				if !json.Valid([]byte(call)) || !containsAll(call, `"action":"getParameter"`, `"region":"us-east-1"`, `/BackToOriginEdge/OriginResponseVersion`) {
					t.Errorf("reader call = %s", call)
				}
			}
			// AND the main stack is deployed after the edge stack
			if deps := second.app.Main.Dependencies(); deps == nil || len(*deps) != 1 || *(*deps)[0].StackName() != "BackToOriginEdge" {
				t.Errorf("main stack dependencies = %v, want the edge stack", deps)
			}
			assertNoNagErrors(t, second)
		})
	}
}

func TestUpgradeFromTheStrongReferencePinsTheVersionInUse(t *testing.T) {
	const inUse = "arn:aws:lambda:us-east-1:111122223333:function:BackToOriginEdge-OriginResponseFunction-Ab12Cd34:7"
	// GIVEN step 1 of the upgrade: the main stack alone, with the version the distribution uses
	step1 := synth(t, map[string]string{"edgeVersionArn": inUse})
	// THEN the main stack reads nothing from the edge stack and keeps that version
	if got := edgeAssociation(t, step1.mainJSON); got != `"`+inUse+`"` {
		t.Errorf("step 1 association = %s, want the pinned %s", got, inUse)
	}
	for _, typ := range []string{"Custom::WeakImport", "Custom::CrossRegionExportReader"} {
		if ids := logicalIDs(t, step1.mainJSON, typ); len(ids) != 0 {
			t.Errorf("step 1 still has %s %v", typ, ids)
		}
	}
	if got := importedNames(t, step1.mainJSON); len(got) != 0 {
		t.Errorf("step 1 imports %v", got)
	}
	// GIVEN step 2: every stack, as usual
	step2 := defaults(t)
	// THEN the main stack reads the edge stack's parameter, and nothing it owns is replaced
	readerID := onlyID(t, step2.mainJSON, "Custom::WeakImport")
	if got := edgeAssociation(t, step2.mainJSON); got != `{"Fn::GetAtt":["`+readerID+`","Parameter.Value"]}` {
		t.Errorf("step 2 association = %s", got)
	}
	for _, typ := range []string{"AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::CloudFront::Distribution", "AWS::Lambda::EventSourceMapping"} {
		if a, b := logicalIDs(t, step1.mainJSON, typ), logicalIDs(t, step2.mainJSON, typ); !slices.Equal(a, b) {
			t.Errorf("%s logical ids: %v in step 1, %v in step 2", typ, a, b)
		}
	}
	assertNoNagErrors(t, step1)
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
