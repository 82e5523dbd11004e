// Package sourceendpoint is the one home of the source setting: where the
// bucket being migrated is read from (GCS by default, or any S3-compatible
// store). The stack (the distribution's secondary origin, the edge settings,
// the transfer function's environment, a stack output for the command-line
// tool), the transfer engine and the local harness all read it from here, so
// they cannot disagree on how a bucket and a key become a URL.
package sourceendpoint

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// DefaultHost is Google Cloud Storage's XML API host: the source domain the
// edge functions recognise unless told otherwise. Their local defaults
// (lambda/edge/*settings.mjs) cannot import it; a test pins them to it.
const DefaultHost = "storage.googleapis.com"

// Default is Google Cloud Storage's XML API, path-style.
const Default = "https://" + DefaultHost

// BucketPlaceholder, as the first label of the host, makes an endpoint
// virtual-hosted: https://{bucket}.s3.example.com puts the bucket in the host
// name; without it the bucket is the first path segment (path-style).
const BucketPlaceholder = "{bucket}"

// DefaultRegion is the SigV4 region GCS accepts for HMAC keys ("auto").
const DefaultRegion = "auto"

// Endpoint is a parsed source endpoint.
type Endpoint struct {
	// Raw is the endpoint as given, normalised (no trailing slash).
	Raw string
	// Scheme is https (or http, accepted only by ParseLocal).
	Scheme string
	// Host is the host name; for a virtual-hosted endpoint it starts with
	// BucketPlaceholder + ".".
	Host string
	// Port is 0 for the scheme's default.
	Port int
}

var hostLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Parse validates an endpoint the distribution can use as an origin: https,
// a DNS host name (CloudFront origins cannot be IP addresses), an optional
// port CloudFront allows for HTTPS origins (443, 1024-65535), no path, query
// or credentials.
func Parse(raw string) (Endpoint, error) {
	e, err := parse(raw)
	if err != nil {
		return Endpoint{}, err
	}
	if e.Scheme != "https" {
		return Endpoint{}, fmt.Errorf("%q: want https:// (CloudFront reaches the source over HTTPS only)", raw)
	}
	host := strings.TrimPrefix(e.Host, BucketPlaceholder+".")
	if net.ParseIP(host) != nil {
		return Endpoint{}, fmt.Errorf("%q: a CloudFront origin must be a DNS name, not an IP address", raw)
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 || len(host) > 253 {
		return Endpoint{}, fmt.Errorf("%q: %q is not a fully qualified host name", raw, host)
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return Endpoint{}, fmt.Errorf("%q: %q is not a host name (lowercase letters, digits and hyphens per label)", raw, host)
		}
	}
	if e.Port != 0 && e.Port != 443 && (e.Port < 1024 || e.Port > 65535) {
		return Endpoint{}, fmt.Errorf("%q: CloudFront accepts HTTPS origin port 443 or 1024-65535, not %d", raw, e.Port)
	}
	return e, nil
}

// ParseLocal also accepts http and IP addresses: the transfer engine and the
// local harness read stand-ins on 127.0.0.1 with it. Never used at synth.
func ParseLocal(raw string) (Endpoint, error) { return parse(raw) }

func parse(raw string) (Endpoint, error) {
	trimmed := strings.TrimSuffix(strings.TrimSpace(raw), "/")
	virtual := strings.Contains(trimmed, BucketPlaceholder)
	if strings.Count(trimmed, BucketPlaceholder) > 1 {
		return Endpoint{}, fmt.Errorf("%q: %s may only be the first label of the host (https://%s.s3.example.com)", raw, BucketPlaceholder, BucketPlaceholder)
	}
	// url.Parse refuses braces in a host; parse with a stand-in label.
	u, err := url.Parse(strings.Replace(trimmed, BucketPlaceholder, "bucket-placeholder", 1))
	if err != nil {
		return Endpoint{}, fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return Endpoint{}, fmt.Errorf("%q: want https://HOST[:PORT]", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return Endpoint{}, fmt.Errorf("%q: want only scheme://HOST[:PORT], no path, query or credentials", raw)
	}
	host := u.Hostname()
	if virtual {
		rest, ok := strings.CutPrefix(host, "bucket-placeholder.")
		if !ok {
			return Endpoint{}, fmt.Errorf("%q: %s may only be the first label of the host (https://%s.s3.example.com)", raw, BucketPlaceholder, BucketPlaceholder)
		}
		host = BucketPlaceholder + "." + rest
	}
	if host == "" {
		return Endpoint{}, fmt.Errorf("%q: no host", raw)
	}
	e := Endpoint{Scheme: u.Scheme, Host: strings.ToLower(host)}
	if p := u.Port(); p != "" {
		if e.Port, err = strconv.Atoi(p); err != nil || e.Port < 1 || e.Port > 65535 {
			return Endpoint{}, fmt.Errorf("%q: bad port %q", raw, p)
		}
	}
	e.Raw = e.Scheme + "://" + e.Host
	if e.Port != 0 {
		e.Raw += ":" + strconv.Itoa(e.Port)
	}
	return e, nil
}

// VirtualHosted reports whether the bucket is part of the host name.
func (e Endpoint) VirtualHosted() bool { return strings.HasPrefix(e.Host, BucketPlaceholder+".") }

// DomainName is the origin's host name for bucket.
func (e Endpoint) DomainName(bucket string) string {
	return strings.Replace(e.Host, BucketPlaceholder, bucket, 1)
}

// OriginPath is the path prefix before every key: "/" + bucket path-style,
// "" virtual-hosted.
func (e Endpoint) OriginPath(bucket string) string {
	if e.VirtualHosted() {
		return ""
	}
	return "/" + bucket
}

// BaseURL is scheme://host[:port] for bucket, without the origin path.
func (e Endpoint) BaseURL(bucket string) string {
	return strings.Replace(e.Raw, BucketPlaceholder, bucket, 1)
}
