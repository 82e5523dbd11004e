package standin

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// GCS is an in-process fake-gcs-server v1.56.1 speaking plain HTTP on
// 127.0.0.1. Its XML-API paths /BUCKET/KEY answer like
// storage.googleapis.com: x-goog-hash, x-goog-generation, x-goog-meta-*,
// Range, ?generation= and decompressive transcoding of gzip objects unless
// the request accepts gzip.
//
// Known gaps (it is a fake): checksums are always computed from the
// content (objects created through the Go API cannot carry a wrong CRC32C:
// simulate corruption in a proxy instead), ETags are base64 MD5 rather than GCS's hex,
// If-Match on GET is ignored, and there is no request authentication, so
// SigV4-signed reads are accepted but not verified.
type GCS struct {
	// URL is the endpoint to use as SOURCE_ENDPOINT, e.g. http://127.0.0.1:PORT.
	URL    string
	Server *fakestorage.Server
}

// GCSOptions tunes the stand-in.
type GCSOptions struct {
	// StorageRoot keeps objects on disk instead of in memory (for objects
	// too big to hold twice in RAM, such as benchmark inputs).
	StorageRoot string
	// ExternalURL is where the JSON API's links (an object's mediaLink)
	// point: a proxy in front of the server, so clients that download by
	// link go through it too. Empty: the server itself.
	ExternalURL string
}

// StartGCS starts the fake GCS server. Close stops it.
func StartGCS(opts GCSOptions) (*GCS, error) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:      "http",
		Host:        "127.0.0.1",
		StorageRoot: opts.StorageRoot,
		ExternalURL: opts.ExternalURL,
		// A PublicHost without a port matches any port on this host, so the
		// /BUCKET/KEY routes also answer requests relayed by a test proxy on
		// another 127.0.0.1 port.
		PublicHost: "127.0.0.1",
		Writer:     io.Discard,
	})
	if err != nil {
		return nil, fmt.Errorf("start fake-gcs-server: %w", err)
	}
	return &GCS{URL: srv.URL(), Server: srv}, nil
}

// NewGCS starts the fake GCS server for a test and stops it at cleanup.
func NewGCS(tb testing.TB) *GCS {
	tb.Helper()
	g, err := StartGCS(GCSOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(g.Close)
	return g
}

// Close stops the server.
func (g *GCS) Close() { g.Server.Stop() }

// CreateBucket creates a bucket. Versioned buckets keep overwritten
// generations readable with ?generation=, like GCS object versioning.
func (g *GCS) CreateBucket(name string, versioned bool) {
	g.Server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name, VersioningEnabled: versioned})
}

// GCSObject describes an object to store. Zero fields are left unset.
type GCSObject struct {
	Bucket, Key        string
	Content            []byte
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Metadata           map[string]string // served as x-goog-meta-NAME
	// Updated is served as Last-Modified (zero: now), so a test can put a
	// version that was written in the past.
	Updated time.Time
}

// PutObject stores (or overwrites) an object and returns the attributes the
// server assigned, including its generation and checksums.
func (g *GCS) PutObject(o GCSObject) (fakestorage.ObjectAttrs, error) {
	return g.PutObjectStreaming(o, readSeekNopCloser{bytes.NewReader(o.Content)})
}

// PutObjectStreaming is PutObject with the content read from r (o.Content
// is ignored), for objects that should not be held in memory twice.
func (g *GCS) PutObjectStreaming(o GCSObject, r io.ReadSeekCloser) (fakestorage.ObjectAttrs, error) {
	err := g.Server.CreateObjectStreaming(fakestorage.StreamingObject{
		ObjectAttrs: fakestorage.ObjectAttrs{
			BucketName:         o.Bucket,
			Name:               o.Key,
			ContentType:        o.ContentType,
			ContentEncoding:    o.ContentEncoding,
			ContentDisposition: o.ContentDisposition,
			ContentLanguage:    o.ContentLanguage,
			CacheControl:       o.CacheControl,
			Metadata:           o.Metadata,
			Updated:            o.Updated.UTC(),
		},
		Content: r,
	})
	if err != nil {
		return fakestorage.ObjectAttrs{}, fmt.Errorf("put gs://%s/%s: %w", o.Bucket, o.Key, err)
	}
	stored, err := g.Server.GetObjectStreaming(o.Bucket, o.Key)
	if err != nil {
		return fakestorage.ObjectAttrs{}, fmt.Errorf("read back gs://%s/%s: %w", o.Bucket, o.Key, err)
	}
	defer stored.Close()
	return stored.ObjectAttrs, nil
}

// MustPutObject is PutObject for tests.
func (g *GCS) MustPutObject(tb testing.TB, o GCSObject) fakestorage.ObjectAttrs {
	tb.Helper()
	attrs, err := g.PutObject(o)
	if err != nil {
		tb.Fatal(err)
	}
	return attrs
}

type readSeekNopCloser struct{ io.ReadSeeker }

func (readSeekNopCloser) Close() error { return nil }
