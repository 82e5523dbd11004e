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
