package stacks

import (
	"slices"
	"strings"
	"testing"
)

func TestOriginShieldRegionsAreSortedAndUnique(t *testing.T) {
	if !slices.IsSorted(OriginShieldRegions) {
		t.Errorf("OriginShieldRegions not sorted: %v", OriginShieldRegions)
	}
	if got := len(slices.Compact(slices.Clone(OriginShieldRegions))); got != len(OriginShieldRegions) {
		t.Errorf("OriginShieldRegions has duplicates: %v", OriginShieldRegions)
	}
	for _, r := range OriginShieldRegions {
		if !regionPattern.MatchString(r) {
			t.Errorf("%q is not an AWS region code", r)
		}
	}
}

func TestEveryGCSLocationMapsToAnOriginShieldRegion(t *testing.T) {
	for _, loc := range GCSLocations() {
		got, err := NearestOriginShieldForGCS(loc)
		if err != nil {
			t.Errorf("NearestOriginShieldForGCS(%q): %v", loc, err)
			continue
		}
		if !slices.Contains(OriginShieldRegions, got) {
			t.Errorf("%q maps to %q, which has no Origin Shield", loc, got)
		}
	}
}

func TestNearestOriginShieldForGCS(t *testing.T) {
	for loc, want := range map[string]string{
		"us-central1":          "us-east-2",
		"us-east4":             "us-east-1",
		"us-west1":             "us-west-2",
		"europe-west1":         "eu-central-1",
		"europe-west2":         "eu-west-2",
		"europe-west3":         "eu-central-1",
		"europe-west9":         "eu-west-2",
		"asia-northeast1":      "ap-northeast-1",
		"asia-northeast3":      "ap-northeast-2",
		"asia-south1":          "ap-south-1",
		"asia-southeast1":      "ap-southeast-1",
		"asia-east2":           "ap-southeast-1",
		"australia-southeast1": "ap-southeast-2",
		"southamerica-east1":   "sa-east-1",
		"africa-south1":        "eu-west-1",
		"me-central2":          "ap-south-1",
		"US":                   "us-east-2",
		"EU":                   "eu-central-1",
		"ASIA":                 "ap-northeast-1",
		"NAM4":                 "us-east-2",
		"ASIA1":                "ap-northeast-1",
		"EUR4":                 "eu-central-1",
		"EUR5":                 "eu-west-2",
		"EUR7":                 "eu-central-1",
		"EUR8":                 "eu-central-1",
	} {
		got, err := NearestOriginShieldForGCS(loc)
		if err != nil || got != want {
			t.Errorf("NearestOriginShieldForGCS(%q) = %q, %v; want %q", loc, got, err, want)
		}
	}
}

func TestNearestOriginShieldForGCSIgnoresCase(t *testing.T) {
	for _, spellings := range [][]string{
		{"us-central1", "US-CENTRAL1", "Us-Central1"},
		{"eu", "EU", "Eu"},
		{"nam4", "NAM4", "Nam4"},
		{"europe-west1", "EUROPE-WEST1"},
	} {
		want, err := NearestOriginShieldForGCS(spellings[0])
		if err != nil {
			t.Fatalf("NearestOriginShieldForGCS(%q): %v", spellings[0], err)
		}
		for _, s := range spellings[1:] {
			if got, err := NearestOriginShieldForGCS(s); err != nil || got != want {
				t.Errorf("NearestOriginShieldForGCS(%q) = %q, %v; want %q as for %q", s, got, err, want, spellings[0])
			}
		}
	}
}

func TestNearestOriginShieldForGCSUnknownLocation(t *testing.T) {
	for _, loc := range []string{"mars-north1", "", "us-central", "eu-west-1"} {
		got, err := NearestOriginShieldForGCS(loc)
		if err == nil {
			t.Errorf("NearestOriginShieldForGCS(%q) = %q, want an error", loc, got)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `"`+loc+`"`) {
			t.Errorf("error for %q does not name it: %s", loc, msg)
		}
		_, list, ok := strings.Cut(msg, "valid locations: ")
		if !ok {
			t.Fatalf("error for %q lists no valid locations: %s", loc, msg)
		}
		if listed := strings.Split(list, ", "); !slices.Equal(listed, GCSLocations()) {
			t.Errorf("error for %q lists %v, want %v", loc, listed, GCSLocations())
		}
	}
}

func TestGCSLocationsSortedUniqueLowerCase(t *testing.T) {
	locs := GCSLocations()
	if !slices.IsSorted(locs) {
		t.Errorf("GCSLocations not sorted: %v", locs)
	}
	if len(slices.Compact(slices.Clone(locs))) != len(locs) {
		t.Errorf("GCSLocations has duplicates: %v", locs)
	}
	for _, l := range locs {
		if l != strings.ToLower(l) || l != strings.TrimSpace(l) || l == "" {
			t.Errorf("location %q is not trimmed lower case", l)
		}
	}
	for _, must := range []string{"us", "eu", "asia", "asia1", "eur4", "eur5", "eur7", "eur8", "nam4",
		"us-central1", "europe-west1", "asia-northeast1", "me-central2", "africa-south1"} {
		if !slices.Contains(locs, must) {
			t.Errorf("GCSLocations lacks %q", must)
		}
	}
	// Callers must not be able to change the table through the returned slice.
	locs[0] = "changed"
	if GCSLocations()[0] == "changed" {
		t.Error("GCSLocations returns shared storage")
	}
}
