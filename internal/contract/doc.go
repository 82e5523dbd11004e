// Package contract holds the names and defaults that more than one part of
// the system must agree on: the CDK stacks (at synth), the transfer engine
// and the transfer Lambda (at run time) and the local harness (in tests and
// the demo). Each value is written here once and read everywhere else, so
// the local run cannot silently differ from what is deployed.
//
// It imports nothing but the standard library: no CDK, no AWS SDK, no
// Lambda runtime, so every side may depend on it without pulling the others
// in. What belongs to one contract with a home of its own stays there:
//
//   - the source endpoint (default https://storage.googleapis.com, path-style
//     or virtual-hosted): internal/sourceendpoint;
//   - the transfer function's environment variables: the Config type of
//     internal/transferlambda, which reads (ConfigFromEnv) and writes
//     (Environ) them;
//   - the settings baked into the edge bundles: internal/edgebundle.
package contract
