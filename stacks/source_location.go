package stacks

import (
	"fmt"
	"slices"
	"strings"
)

// OriginShieldRegions are the regions where CloudFront runs Origin Shield (from the guide).
//
// Source: Amazon CloudFront Developer Guide, "Using Origin Shield" / "Choosing the AWS Region for
// Origin Shield", https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/origin-shield.html
// read 2026-12-01 in its published source (awsdocs/amazon-cloudfront-developer-guide,
// doc_source/origin-shield.md), which lists these 12 regions, the same 12 as config.go. Recheck
// the live page when AWS adds regional edge caches: Origin Shield follows them.
var OriginShieldRegions = []string{
	"ap-northeast-1", // Tokyo
	"ap-northeast-2", // Seoul
	"ap-south-1",     // Mumbai
	"ap-southeast-1", // Singapore
	"ap-southeast-2", // Sydney
	"eu-central-1",   // Frankfurt
	"eu-west-1",      // Ireland
	"eu-west-2",      // London
	"sa-east-1",      // São Paulo
	"us-east-1",      // N. Virginia
	"us-east-2",      // Ohio
	"us-west-2",      // Oregon
}

// gcsOriginShield maps every GCS bucket location (lower case) to the Origin Shield region nearest it.
//
// Sources, both read on 2026-12-01:
//   - GCS "Bucket locations": https://cloud.google.com/storage/docs/locations
//     (regions, the multi-regions US/EU/ASIA and the predefined dual-regions). Only the opening of
//     the stored copy could be read; the region list was completed from copies of its tables
//     elsewhere, so a region newer than those (for example a new Asian region) may be missing.
//   - CloudFront "Choosing the AWS Region for Origin Shield":
//     https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/origin-shield.html#choose-origin-shield-region
//     (the Origin Shield regions, and the region AWS recommends for origins in each AWS Region
//     without Origin Shield).
//
// How each was chosen, in order:
//  1. The location is in the same metro as an Origin Shield region: that region.
//  2. It is in the same metro/country as an AWS Region for which the guide recommends an Origin
//     Shield region: the guide's recommendation, since AWS chose it by latency, even where a
//     straight line says otherwise (Paris -> London, Stockholm -> London, Cape Town -> Ireland,
//     Bahrain -> Mumbai, Hong Kong -> Singapore, Milan -> Frankfurt, Montréal -> N. Virginia).
//  3. Otherwise the nearest Origin Shield region by great-circle distance; near ties (within ~15%)
//     go to the candidate that keeps an EU bucket's cached copies inside the EU.
//
// Dual-regions and multi-regions take the Origin Shield region that is nearest to all of their
// data centres together.
var gcsOriginShield = map[string]string{
	// North America.
	"northamerica-northeast1": "us-east-1", // Montréal: the guide sends ca-central-1 (Montréal) to us-east-1.
	// Toronto: Ohio and N. Virginia are both ~520 km away; follow the guide's choice for Canada
	// (ca-central-1 -> us-east-1), and Ashburn is where Toronto's traffic to the US mostly meets it.
	"northamerica-northeast2": "us-east-1",
	"northamerica-south1":     "us-east-2", // Querétaro: Ohio ~2,700 km, N. Virginia ~2,900 km, Oregon ~3,300 km.
	"us-central1":             "us-east-2", // Council Bluffs, Iowa: Ohio ~1,000 km, Oregon ~2,200 km.
	"us-east1":                "us-east-1", // Moncks Corner, South Carolina: N. Virginia ~650 km.
	"us-east4":                "us-east-1", // Ashburn, N. Virginia: same metro.
	"us-east5":                "us-east-2", // Columbus, Ohio: same metro.
	"us-south1":               "us-east-2", // Dallas: Ohio ~1,500 km, N. Virginia ~1,900 km, Oregon ~2,600 km.
	"us-west1":                "us-west-2", // The Dalles, Oregon: same state, ~100 km.
	"us-west2":                "us-west-2", // Los Angeles: the guide sends us-west-1 (N. California) to us-west-2.
	"us-west3":                "us-west-2", // Salt Lake City: Oregon ~900 km.
	"us-west4":                "us-west-2", // Las Vegas: Oregon ~1,200 km, Ohio ~2,800 km.

	// South America.
	"southamerica-east1": "sa-east-1", // São Paulo: same metro.
	"southamerica-west1": "sa-east-1", // Santiago: São Paulo ~2,600 km; the next candidate is ~7,000 km away.

	// Europe.
	"europe-central2": "eu-central-1", // Warsaw: Frankfurt ~900 km.
	"europe-north1":   "eu-central-1", // Hamina, Finland: Frankfurt ~1,550 km, London ~1,950 km.
	// Stockholm: the guide sends eu-north-1 (Stockholm) to eu-west-2, although Frankfurt is nearer.
	"europe-north2":     "eu-west-2",
	"europe-southwest1": "eu-central-1", // Madrid: London ~1,260 km, Frankfurt ~1,450 km: near tie, stay in the EU.
	// St. Ghislain, Belgium: London ~300 km, Frankfurt ~350 km: near tie, stay in the EU (and overland).
	"europe-west1":  "eu-central-1",
	"europe-west2":  "eu-west-2",    // London: same metro.
	"europe-west3":  "eu-central-1", // Frankfurt: same metro.
	"europe-west4":  "eu-central-1", // Eemshaven, Netherlands: Frankfurt ~390 km, London ~520 km.
	"europe-west6":  "eu-central-1", // Zürich: Frankfurt ~300 km.
	"europe-west8":  "eu-central-1", // Milan: the guide sends eu-south-1 (Milan) to eu-central-1.
	"europe-west9":  "eu-west-2",    // Paris: the guide sends eu-west-3 (Paris) to eu-west-2.
	"europe-west10": "eu-central-1", // Berlin: Frankfurt ~420 km.
	"europe-west12": "eu-central-1", // Turin: as Milan.

	// Middle East.
	"me-central1": "ap-south-1",   // Doha: next to Bahrain, which the guide (me-south-1) sends to ap-south-1.
	"me-central2": "ap-south-1",   // Dammam: ~50 km from Bahrain, as above.
	"me-west1":    "eu-central-1", // Tel Aviv: Frankfurt ~2,950 km, Mumbai ~4,000 km.

	// Asia.
	// Changhua County, Taiwan: Seoul (~1,650 km) is nearer than Tokyo (~2,250 km) in a straight line,
	// but Taiwan's submarine cables run mostly to Japan, and Tokyo is Asia's main CloudFront hub.
	"asia-east1":      "ap-northeast-1",
	"asia-east2":      "ap-southeast-1", // Hong Kong: the guide sends ap-east-1 (Hong Kong) to ap-southeast-1.
	"asia-northeast1": "ap-northeast-1", // Tokyo: same metro.
	"asia-northeast2": "ap-northeast-1", // Osaka: Tokyo ~400 km.
	"asia-northeast3": "ap-northeast-2", // Seoul: same metro.
	"asia-south1":     "ap-south-1",     // Mumbai: same metro.
	"asia-south2":     "ap-south-1",     // Delhi: Mumbai ~1,150 km.
	"asia-southeast1": "ap-southeast-1", // Singapore: same metro.
	"asia-southeast2": "ap-southeast-1", // Jakarta: Singapore ~900 km.

	// Australia.
	"australia-southeast1": "ap-southeast-2", // Sydney: same metro.
	"australia-southeast2": "ap-southeast-2", // Melbourne: Sydney ~700 km.

	// Africa.
	// Johannesburg: Mumbai is nearer in a straight line, but the guide sends af-south-1 (Cape Town)
	// to eu-west-1: South Africa's submarine cables run up the west coast to Europe.
	"africa-south1": "eu-west-1",

	// Multi-regions.
	// US: GCS spreads the data over US data centres from Iowa and South Carolina to Oregon; Ohio
	// (us-east-2) sits in the middle of the largest ones (Iowa, South Carolina, N. Virginia, Ohio).
	"us": "us-east-2",
	// EU: data centres in EU member states only; Frankfurt is central among them (Belgium,
	// Netherlands, Finland, Germany, Poland, Italy, Spain, France) and is itself in the EU,
	// which London is not.
	"eu": "eu-central-1",
	// ASIA: data centres across Asia, the largest in Taiwan and Japan; Tokyo is the nearest Origin
	// Shield region to that cluster (Singapore would suit a bucket used mostly in South-East Asia).
	"asia": "ap-northeast-1",

	// Predefined dual-regions.
	"asia1": "ap-northeast-1", // Tokyo + Osaka.
	"eur4":  "eu-central-1",   // Finland + Netherlands.
	"eur5":  "eu-west-2",      // Belgium + London: London holds one copy and is ~300 km from the other.
	"eur7":  "eu-central-1",   // London + Frankfurt: a tie; Frankfurt, the more central of the two.
	"eur8":  "eu-central-1",   // Frankfurt + Zürich.
	"nam4":  "us-east-2",      // Iowa + South Carolina: Ohio is ~1,000 km and ~700 km from them.
}

// NearestOriginShieldForGCS returns the Origin Shield region nearest a GCS bucket location.
// location is case-insensitive ("us-central1", "US-CENTRAL1", "eu", "NAM4"). An unknown location
// returns an error that names it and lists every valid location, sorted.
func NearestOriginShieldForGCS(location string) (string, error) {
	if region, ok := gcsOriginShield[strings.ToLower(strings.TrimSpace(location))]; ok {
		return region, nil
	}
	return "", fmt.Errorf("unknown GCS bucket location %q; valid locations: %s",
		location, strings.Join(GCSLocations(), ", "))
}

// GCSLocations returns every known GCS location in lower case, sorted.
func GCSLocations() []string {
	locations := make([]string, 0, len(gcsOriginShield))
	for location := range gcsOriginShield {
		locations = append(locations, location)
	}
	slices.Sort(locations)
	return locations
}
