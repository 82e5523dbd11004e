// Package migrate finishes a migration that viewers started: it lists the
// source (GCS's XML API, or any S3-compatible store) and the S3
// destination in key order, in parallel over key ranges, merge-joins the
// two listings, and either reports the differences (Verify) or queues
// every key missing in S3 on the transfer queue (Backfill), exactly as the
// edge handler queues a viewer's miss. cmd/backtoorigin is its command line.
//
// The merge-join relies on both sides listing in the same order. S3 lists
// keys in UTF-8 binary order (ascending key names, ListObjectsV2); GCS's XML
// API lists objects "ordered lexicographically by name"
// (https://cloud.google.com/storage/docs/xml-api/get-bucket-list), which
// for UTF-8 names is the same byte order; fake-gcs-server and versitygw
// sort with a byte comparison too. Nothing here trusts that: every listing
// is checked to be strictly increasing and fails with ErrOutOfOrder
// otherwise, since a join over misordered input would report false
// differences.
package migrate
