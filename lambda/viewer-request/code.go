// Package viewerrequest holds the CloudFront Function that runs on every viewer request
// (index.js, JavaScript). The Go file only embeds it, so the stack inlines exactly the
// file that the node tests and the local front run.
package viewerrequest

import _ "embed"

// Source is index.js as deployed.
//
//go:embed index.js
var Source string
