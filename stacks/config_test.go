package stacks_test

import (
	"strings"
	"testing"

	"github.com/backtoorigin/backtoorigin/stacks"
)

func TestOriginShieldRegion(t *testing.T) {
	tests := []struct {
		name          string
		context       map[string]string
		defaultRegion string
		want          string
		wantErr       []string
	}{
		{"defaults to the stack's region", nil, "eu-west-1", "eu-west-1", nil},
		{"context wins", map[string]string{"originShieldRegion": "us-east-2"}, "eu-west-1", "us-east-2", nil},
		{"region without Origin Shield uses the nearest", nil, "eu-west-3", "eu-west-2", nil},
		{"unsupported value fails and lists the valid ones", map[string]string{"originShieldRegion": "eu-west-3"}, "eu-west-1", "",
			[]string{`"originShieldRegion"`, `"eu-west-3"`, "us-east-1", "ap-northeast-1", "sa-east-1"}},
		{"not a region", map[string]string{"originShieldRegion": "moon-1"}, "eu-west-1", "", []string{"moon-1", "valid regions"}},
		{"unknown stack region without a mapping", nil, "xx-nowhere-9", "", []string{"xx-nowhere-9", "-c originShieldRegion="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := stacks.ParseConfig(tt.context, "", tt.defaultRegion)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("want an error, got %+v", cfg)
				}
				for _, part := range tt.wantErr {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not mention %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.OriginShieldRegion != tt.want {
				t.Errorf("origin shield region = %q, want %q", cfg.OriginShieldRegion, tt.want)
			}
		})
	}
}

func TestConfigRejectsBadContext(t *testing.T) {
	for key, value := range map[string]string{
		"autoDeleteBucket":       "yes",
		"transferMaxConcurrency": "1",
		"alarmEmail":             "not-an-email",
		"region":                 "Europe",
		"includePrefixes":        "img/,,video/",
		"excludeSuffixes":        `[".tmp"`,
	} {
		if _, err := stacks.ParseConfig(map[string]string{key: value}, "", "eu-west-1"); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: error %v, want one naming %s", key, value, err, key)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := stacks.ParseConfig(nil, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.RegionDefaulted || cfg.Region != "us-east-1" || cfg.TransferMaxConcurrency != 50 || cfg.AutoDeleteBucket {
		t.Errorf("defaults = %+v", cfg)
	}
	if len(cfg.IncludePrefixes) != 0 || len(cfg.ExcludeSuffixes) != 0 {
		t.Errorf("key rules default to every key, got %+v", cfg)
	}
}

func TestSourceOriginShieldRegion(t *testing.T) {
	tests := []struct {
		name          string
		context       map[string]string
		want          string
		wantDefaulted bool
		wantErr       []string
	}{
		{"without a setting: where the S3 origin's is, flagged for a warning", nil, "eu-west-1", true, nil},
		{"from the GCS bucket's location", map[string]string{"sourceLocation": "us-central1"}, "us-east-2", false, nil},
		{"a location in capitals, as gsutil prints it", map[string]string{"sourceLocation": "ASIA-NORTHEAST1"}, "ap-northeast-1", false, nil},
		{"given directly", map[string]string{"sourceOriginShieldRegion": "sa-east-1"}, "sa-east-1", false, nil},
		{"independent of the S3 origin's", map[string]string{"originShieldRegion": "eu-west-2", "sourceLocation": "australia-southeast1"}, "ap-southeast-2", false, nil},
		{"an unknown location fails and lists the valid ones", map[string]string{"sourceLocation": "mars-north1"}, "", false,
			[]string{`"sourceLocation"`, "mars-north1", "us-central1", "europe-west1", "eu", "nam4"}},
		{"a region without Origin Shield", map[string]string{"sourceOriginShieldRegion": "eu-west-3"}, "", false,
			[]string{`"sourceOriginShieldRegion"`, "eu-west-3", "valid regions", "eu-west-2"}},
		{"both settings", map[string]string{"sourceOriginShieldRegion": "us-east-2", "sourceLocation": "us-central1"}, "", false,
			[]string{`"sourceOriginShieldRegion"`, `"sourceLocation"`, "not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := stacks.ParseConfig(tt.context, "", "eu-west-1")
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("want an error, got %+v", cfg)
				}
				for _, part := range tt.wantErr {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not mention %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.SourceOriginShieldRegion != tt.want || cfg.SourceOriginShieldDefaulted != tt.wantDefaulted {
				t.Errorf("source origin shield = %q (defaulted %v), want %q (%v)", cfg.SourceOriginShieldRegion, cfg.SourceOriginShieldDefaulted, tt.want, tt.wantDefaulted)
			}
		})
	}
}

func TestEdgeVersionArnMustBeANumberedVersionInUSEast1(t *testing.T) {
	good := "arn:aws:lambda:us-east-1:111122223333:function:BackToOriginEdge-Fn-Ab12:7"
	cfg, err := stacks.ParseConfig(map[string]string{"edgeVersionArn": good}, "", "eu-west-1")
	if err != nil || cfg.EdgeVersionArn != good {
		t.Fatalf("edgeVersionArn %q: %v, %q", good, err, cfg.EdgeVersionArn)
	}
	for _, bad := range []string{
		"arn:aws:lambda:eu-west-1:111122223333:function:BackToOriginEdge-Fn-Ab12:7", // not us-east-1
		"arn:aws:lambda:us-east-1:111122223333:function:BackToOriginEdge-Fn-Ab12",   // no version
		"arn:aws:lambda:us-east-1:111122223333:function:BackToOriginEdge-Fn-Ab12:$LATEST",
		"7",
	} {
		if _, err := stacks.ParseConfig(map[string]string{"edgeVersionArn": bad}, "", "eu-west-1"); err == nil || !strings.Contains(err.Error(), `"edgeVersionArn"`) {
			t.Errorf("edgeVersionArn %q: error %v, want one naming the key", bad, err)
		}
	}
}
