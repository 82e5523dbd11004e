// Package cfn reads what the local front imitates from the synthesized
// main-stack template (cdk.out/BackToOrigin.template.json or any synth's
// output), so the end-to-end tests exercise the template itself and not a
// copy of its settings kept in the harness.
package cfn

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Distribution is the default cache behavior of the template's one
// CloudFront distribution, as far as the front imitates it.
type Distribution struct {
	// FailoverToGCS is true when the behavior targets an origin group whose
	// primary is the bucket and whose secondary is a custom (GCS) origin;
	// false when it targets the bucket alone (the cutover).
	FailoverToGCS bool
	// FailoverCodes are the origin group's failover status codes.
	FailoverCodes []int
	// ErrorCachingTTL is the error-caching minimum TTL per status code, in
	// seconds.
	ErrorCachingTTL map[int]int
	// AllowedMethods are the behavior's allowed methods.
	AllowedMethods []string
	// ViewerRequestCode is the code of the CloudFront Function associated
	// with viewer-request events ("" when none).
	ViewerRequestCode string
	// OriginResponse is true when a Lambda@Edge function is associated with
	// origin-response events.
	OriginResponse bool
	// OriginRequest is the Lambda@Edge function associated with
	// origin-request events (nil: none). Parse finds the association;
	// LoadApp also finds the function's code in the synthesized app.
	OriginRequest *EdgeFunction
	// SourceDomainName is the secondary (custom) origin's domain name when
	// the template spells it out ("" when it is computed, as for a
	// virtual-hosted source, or there is no failover).
	SourceDomainName string
	// ForwardedHeaders are the viewer headers the origin request policy
	// sends to the origin.
	ForwardedHeaders []string
	// CORS is the response headers policy's CORS configuration (nil: none).
	CORS *CORS
	// BucketCORS are the CORS rules of the bucket the distribution reads.
	BucketCORS []BucketCORSRule
}

// EdgeFunction is a Lambda@Edge function version the main stack reads
// from the edge stack through a weak import (stacks/weak_reference.go).
type EdgeFunction struct {
	// Parameter is the SSM parameter holding the version's ARN.
	Parameter string
	// Bundle is the synthesized asset folder with the function's deployed
	// files (handler and baked settings); set by LoadApp.
	Bundle string
	// Handler is the function's handler setting ("file.export"); set by
	// LoadApp.
	Handler string
}

// CORS is a response headers policy's CorsConfig.
type CORS struct {
	AllowCredentials bool
	AllowHeaders     []string
	AllowMethods     []string
	AllowOrigins     []string
	ExposeHeaders    []string
	MaxAgeSec        int
	OriginOverride   bool
}

// BucketCORSRule is one rule of an AWS::S3::Bucket CorsConfiguration.
type BucketCORSRule struct {
	AllowedOrigins []string
	AllowedMethods []string
	AllowedHeaders []string
	MaxAge         int
}

type resource struct {
	Type       string          `json:"Type"`
	Properties json.RawMessage `json:"Properties"`
}

type items[T any] struct {
	Items []T `json:"Items"`
}

// Load reads the template at path.
func Load(path string) (*Distribution, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// template is a CloudFormation template's resources by logical id.
type template struct {
	Resources map[string]resource `json:"Resources"`
}

func parseTemplate(b []byte) (template, error) {
	var tmpl template
	if err := json.Unmarshal(b, &tmpl); err != nil {
		return template{}, fmt.Errorf("not a template: %w", err)
	}
	return tmpl, nil
}

// byType lists the logical ids of the resources of type typ, sorted.
func (t template) byType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// distributionConfig is the part of a DistributionConfig the front imitates.
type distributionConfig struct {
	Origins []struct {
		ID             string          `json:"Id"`
		DomainName     json.RawMessage `json:"DomainName"`
		S3OriginConfig json.RawMessage `json:"S3OriginConfig"`
		CustomOrigin   json.RawMessage `json:"CustomOriginConfig"`
	} `json:"Origins"`
	OriginGroups struct {
		Items []struct {
			ID               string `json:"Id"`
			FailoverCriteria struct {
				StatusCodes items[int] `json:"StatusCodes"`
			} `json:"FailoverCriteria"`
			Members items[struct {
				OriginID string `json:"OriginId"`
			}] `json:"Members"`
		} `json:"Items"`
	} `json:"OriginGroups"`
	DefaultCacheBehavior cacheBehavior `json:"DefaultCacheBehavior"`
	CustomErrorResponses []struct {
		ErrorCode          int `json:"ErrorCode"`
		ErrorCachingMinTTL int `json:"ErrorCachingMinTTL"`
	} `json:"CustomErrorResponses"`
}

type cacheBehavior struct {
	TargetOriginID       string   `json:"TargetOriginId"`
	AllowedMethods       []string `json:"AllowedMethods"`
	FunctionAssociations []struct {
		EventType   string          `json:"EventType"`
		FunctionARN json.RawMessage `json:"FunctionARN"`
	} `json:"FunctionAssociations"`
	LambdaFunctionAssociations []struct {
		EventType   string          `json:"EventType"`
		FunctionARN json.RawMessage `json:"LambdaFunctionARN"`
	} `json:"LambdaFunctionAssociations"`
	ResponseHeadersPolicyID json.RawMessage `json:"ResponseHeadersPolicyId"`
	OriginRequestPolicyID   json.RawMessage `json:"OriginRequestPolicyId"`
}

// Parse reads a template's JSON.
func Parse(b []byte) (*Distribution, error) {
	tmpl, err := parseTemplate(b)
	if err != nil {
		return nil, err
	}
	dists := tmpl.byType("AWS::CloudFront::Distribution")
	if len(dists) != 1 {
		return nil, fmt.Errorf("want one AWS::CloudFront::Distribution, found %d", len(dists))
	}
	var dist struct {
		DistributionConfig distributionConfig `json:"DistributionConfig"`
	}
	if err := json.Unmarshal(tmpl.Resources[dists[0]].Properties, &dist); err != nil {
		return nil, fmt.Errorf("distribution %s: %w", dists[0], err)
	}
	cfg := dist.DistributionConfig
	behavior := cfg.DefaultCacheBehavior
	out := &Distribution{AllowedMethods: behavior.AllowedMethods, ErrorCachingTTL: map[int]int{}}
	if err := out.readOrigins(cfg); err != nil {
		return nil, err
	}
	for _, e := range cfg.CustomErrorResponses {
		out.ErrorCachingTTL[e.ErrorCode] = e.ErrorCachingMinTTL
	}
	if err := out.readFunctions(tmpl, behavior); err != nil {
		return nil, err
	}
	if behavior.OriginRequestPolicyID != nil {
		if out.ForwardedHeaders, err = forwardedHeaders(tmpl, behavior.OriginRequestPolicyID); err != nil {
			return nil, err
		}
	}
	if behavior.ResponseHeadersPolicyID != nil {
		if out.CORS, err = responseCORS(tmpl, behavior.ResponseHeadersPolicyID); err != nil {
			return nil, err
		}
	}
	for _, id := range tmpl.byType("AWS::S3::Bucket") {
		var b struct {
			CorsConfiguration struct {
				CorsRules []BucketCORSRule `json:"CorsRules"`
			} `json:"CorsConfiguration"`
		}
		if err := json.Unmarshal(tmpl.Resources[id].Properties, &b); err != nil {
			return nil, fmt.Errorf("bucket %s: %w", id, err)
		}
		out.BucketCORS = append(out.BucketCORS, b.CorsConfiguration.CorsRules...)
	}
	return out, nil
}

// readOrigins finds what the default behavior targets: the bucket alone, or
// an origin group failing over from the bucket to a custom origin.
func (out *Distribution) readOrigins(cfg distributionConfig) error {
	target := cfg.DefaultCacheBehavior.TargetOriginID
	isS3 := map[string]bool{}
	for _, o := range cfg.Origins {
		isS3[o.ID] = o.S3OriginConfig != nil
	}
	if isS3[target] {
		return nil
	}
	var found bool
	for _, g := range cfg.OriginGroups.Items {
		if g.ID != target {
			continue
		}
		found = true
		m := g.Members.Items
		if len(m) != 2 || !isS3[m[0].OriginID] || isS3[m[1].OriginID] {
			return fmt.Errorf("origin group %s: want the bucket first and a custom origin second", g.ID)
		}
		out.FailoverToGCS, out.FailoverCodes = true, g.FailoverCriteria.StatusCodes.Items
		for _, o := range cfg.Origins {
			if o.ID == m[1].OriginID {
				_ = json.Unmarshal(o.DomainName, &out.SourceDomainName) // "" unless a plain string
			}
		}
	}
	if !found {
		return fmt.Errorf("default behavior targets %q, neither the bucket nor an origin group", target)
	}
	return nil
}

// readFunctions finds the behavior's edge functions: which Lambda@Edge
// events have one (origin-request: which SSM parameter names it) and the
// viewer-request CloudFront Function's inline code.
func (out *Distribution) readFunctions(tmpl template, behavior cacheBehavior) error {
	for _, a := range behavior.LambdaFunctionAssociations {
		out.OriginResponse = out.OriginResponse || a.EventType == "origin-response"
		if a.EventType != "origin-request" {
			continue
		}
		parameter, err := weakImport(tmpl.Resources, a.FunctionARN)
		if err != nil {
			return fmt.Errorf("origin-request function: %w", err)
		}
		out.OriginRequest = &EdgeFunction{Parameter: parameter}
	}
	for _, a := range behavior.FunctionAssociations {
		if a.EventType != "viewer-request" {
			continue
		}
		id, err := refOf(a.FunctionARN, "Fn::GetAtt")
		if err != nil {
			return fmt.Errorf("viewer-request function: %w", err)
		}
		var fn struct {
			FunctionCode string `json:"FunctionCode"`
		}
		if err := json.Unmarshal(tmpl.Resources[id].Properties, &fn); err != nil || fn.FunctionCode == "" {
			return fmt.Errorf("viewer-request function %s has no inline code (%v)", id, err)
		}
		out.ViewerRequestCode = fn.FunctionCode
	}
	return nil
}

// forwardedHeaders reads the viewer headers the referenced origin request
// policy sends to the origin.
func forwardedHeaders(tmpl template, ref json.RawMessage) ([]string, error) {
	id, err := refOf(ref, "Ref")
	if err != nil {
		return nil, fmt.Errorf("origin request policy: %w", err)
	}
	var p struct {
		OriginRequestPolicyConfig struct {
			HeadersConfig struct {
				HeaderBehavior string   `json:"HeaderBehavior"`
				Headers        []string `json:"Headers"`
			} `json:"HeadersConfig"`
		} `json:"OriginRequestPolicyConfig"`
	}
	if err := json.Unmarshal(tmpl.Resources[id].Properties, &p); err != nil {
		return nil, fmt.Errorf("origin request policy %s: %w", id, err)
	}
	h := p.OriginRequestPolicyConfig.HeadersConfig
	switch h.HeaderBehavior {
	case "whitelist":
		return h.Headers, nil
	case "none":
		return nil, nil
	}
	return nil, fmt.Errorf("origin request policy %s: header behavior %q is not imitated", id, h.HeaderBehavior)
}

// responseCORS reads the referenced response headers policy's CORS
// configuration (nil: none).
func responseCORS(tmpl template, ref json.RawMessage) (*CORS, error) {
	id, err := refOf(ref, "Ref")
	if err != nil {
		return nil, fmt.Errorf("response headers policy: %w", err)
	}
	var p struct {
		ResponseHeadersPolicyConfig struct {
			CorsConfig *struct {
				AccessControlAllowCredentials bool          `json:"AccessControlAllowCredentials"`
				AccessControlAllowHeaders     items[string] `json:"AccessControlAllowHeaders"`
				AccessControlAllowMethods     items[string] `json:"AccessControlAllowMethods"`
				AccessControlAllowOrigins     items[string] `json:"AccessControlAllowOrigins"`
				AccessControlExposeHeaders    items[string] `json:"AccessControlExposeHeaders"`
				AccessControlMaxAgeSec        int           `json:"AccessControlMaxAgeSec"`
				OriginOverride                bool          `json:"OriginOverride"`
			} `json:"CorsConfig"`
		} `json:"ResponseHeadersPolicyConfig"`
	}
	if err := json.Unmarshal(tmpl.Resources[id].Properties, &p); err != nil {
		return nil, fmt.Errorf("response headers policy %s: %w", id, err)
	}
	c := p.ResponseHeadersPolicyConfig.CorsConfig
	if c == nil {
		return nil, nil
	}
	return &CORS{
		AllowCredentials: c.AccessControlAllowCredentials,
		AllowHeaders:     c.AccessControlAllowHeaders.Items,
		AllowMethods:     c.AccessControlAllowMethods.Items,
		AllowOrigins:     c.AccessControlAllowOrigins.Items,
		ExposeHeaders:    c.AccessControlExposeHeaders.Items,
		MaxAgeSec:        c.AccessControlMaxAgeSec,
		OriginOverride:   c.OriginOverride,
	}, nil
}

// weakImport returns the SSM parameter a Custom::WeakImport reads, given a
// Fn::GetAtt of it (the only way the main stack refers to an edge function).
func weakImport(resources map[string]resource, raw json.RawMessage) (string, error) {
	id, err := refOf(raw, "Fn::GetAtt")
	if err != nil {
		return "", err
	}
	r := resources[id]
	var p struct {
		Create string `json:"Create"`
	}
	if r.Type != "Custom::WeakImport" || json.Unmarshal(r.Properties, &p) != nil {
		return "", fmt.Errorf("%s is a %s, not the weak import the front imitates", id, r.Type)
	}
	var call struct {
		Action     string `json:"action"`
		Parameters struct {
			Name string `json:"Name"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal([]byte(p.Create), &call); err != nil || call.Action != "getParameter" || call.Parameters.Name == "" {
		return "", fmt.Errorf("weak import %s reads no SSM parameter (%s)", id, p.Create)
	}
	return call.Parameters.Name, nil
}

// LoadApp reads mainStack's template from a synthesized app folder (a cdk
// synth's output) and, for an associated origin-request function, finds its
// code there: the SSM parameter of another stack's template that holds its
// version, the version's function, and the asset folder that function
// deploys (asset.<hash> for Code.S3Key <hash>.zip). The front then runs
// exactly the bundle that would be deployed, settings included.
func LoadApp(outdir, mainStack string) (*Distribution, error) {
	d, err := Load(filepath.Join(outdir, mainStack+".template.json"))
	if err != nil || d.OriginRequest == nil {
		return d, err
	}
	templates, err := filepath.Glob(filepath.Join(outdir, "*.template.json"))
	if err != nil {
		return nil, err
	}
	for _, path := range templates {
		if filepath.Base(path) == mainStack+".template.json" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read template: %w", err)
		}
		found, err := findFunction(b, d.OriginRequest, outdir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if found {
			return d, nil
		}
	}
	return nil, fmt.Errorf("no template in %s has the SSM parameter %s the origin-request association reads", outdir, d.OriginRequest.Parameter)
}

// findFunction fills fn's Bundle and Handler from the template b if it holds
// fn's parameter.
func findFunction(b []byte, fn *EdgeFunction, outdir string) (bool, error) {
	tmpl, err := parseTemplate(b)
	if err != nil {
		return false, err
	}
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::SSM::Parameter" {
			continue
		}
		var param struct {
			Name  string          `json:"Name"`
			Value json.RawMessage `json:"Value"`
		}
		if err := json.Unmarshal(r.Properties, &param); err != nil || param.Name != fn.Parameter {
			continue
		}
		versionID, err := refOf(param.Value, "Ref")
		if err != nil || tmpl.Resources[versionID].Type != "AWS::Lambda::Version" {
			return false, fmt.Errorf("parameter %s does not hold a Lambda version's ARN", id)
		}
		var version struct {
			FunctionName json.RawMessage `json:"FunctionName"`
		}
		_ = json.Unmarshal(tmpl.Resources[versionID].Properties, &version)
		functionID, err := refOf(version.FunctionName, "Ref")
		if err != nil || tmpl.Resources[functionID].Type != "AWS::Lambda::Function" {
			return false, fmt.Errorf("version %s is not a version of a function of the template", versionID)
		}
		var function struct {
			Handler string `json:"Handler"`
			Code    struct {
				S3Key string `json:"S3Key"`
			} `json:"Code"`
		}
		if err := json.Unmarshal(tmpl.Resources[functionID].Properties, &function); err != nil {
			return false, fmt.Errorf("function %s: %w", functionID, err)
		}
		hash, ok := strings.CutSuffix(function.Code.S3Key, ".zip")
		if !ok || hash == "" || strings.ContainsAny(hash, `/\`) {
			return false, fmt.Errorf("function %s has no asset code (S3Key %q)", functionID, function.Code.S3Key)
		}
		bundle := filepath.Join(outdir, "asset."+hash)
		if st, err := os.Stat(bundle); err != nil || !st.IsDir() {
			return false, fmt.Errorf("function %s: asset folder %s missing (%v)", functionID, bundle, err)
		}
		fn.Bundle, fn.Handler = bundle, function.Handler
		return true, nil
	}
	return false, nil
}

// refOf returns the logical id in {"Ref": id} or {"Fn::GetAtt": [id, attr]}.
func refOf(raw json.RawMessage, intrinsic string) (string, error) {
	if intrinsic == "Ref" {
		var ref struct {
			Ref string `json:"Ref"`
		}
		if err := json.Unmarshal(raw, &ref); err != nil || ref.Ref == "" {
			return "", fmt.Errorf("%s is not a Ref to a resource of the template", raw)
		}
		return ref.Ref, nil
	}
	var att struct {
		GetAtt []string `json:"Fn::GetAtt"`
	}
	if err := json.Unmarshal(raw, &att); err != nil || len(att.GetAtt) != 2 {
		return "", fmt.Errorf("%s is not a Fn::GetAtt of a resource of the template", raw)
	}
	return att.GetAtt[0], nil
}
