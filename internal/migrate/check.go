package migrate

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// S3API is the part of the S3 client the migration uses.
type S3API interface {
	S3ListAPI
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// SourceHeader reads one source object's current metadata;
// (*transfer.Source).Head is the real one.
type SourceHeader interface {
	Head(ctx context.Context, key, generation string) (transfer.SourceObject, error)
}

var _ SourceHeader = (*transfer.Source)(nil)

// Sides are the two buckets being compared.
type Sides struct {
	Source     Lister
	SourceHead SourceHeader // needed by deep checks
	Dest       S3API
	Bucket     string // destination bucket
	PageSize   int    // listing page size (default 1000)
	// Copies reports whether the deployment copies a key at all: the key
	// rules (includePrefixes, excludeSuffixes) that the edge function and
	// the transfer function share. Nil: every key.
	Copies func(key string) bool
}

// exclude turns a missing key that no copy will ever make present into
// KindExcluded, with the reason: one the transfer refuses as malformed
// (it would only reach the dead-letter queue), or one the key rules leave
// out (the edge does not queue it, the transfer acknowledges it unread).
func (s *Sides) exclude(e *Entry) {
	if e.Kind != KindMissing {
		return
	}
	if err := transfer.ValidateKey(e.Key); err != nil {
		e.Kind, e.Reason = KindExcluded, "the transfer would refuse it: "+err.Error()
	} else if s.Copies != nil && !s.Copies(e.Key) {
		e.Kind, e.Reason = KindExcluded, "the key rules (includePrefixes, excludeSuffixes) leave it out"
	}
}

// destHead is what a HEAD of the destination says about one key.
type destHead struct {
	etag       string
	generation string // source-generation metadata; "" when S3's object carries none
	crc32c     string // full-object CRC32C (base64), "" when S3 has none
}

func (s *Sides) headDest(ctx context.Context, key string, checksum bool) (destHead, error) {
	in := &s3.HeadObjectInput{Bucket: &s.Bucket, Key: &key}
	if checksum {
		in.ChecksumMode = types.ChecksumModeEnabled
	}
	out, err := s.Dest.HeadObject(ctx, in)
	if err != nil {
		return destHead{}, fmt.Errorf("head s3://%s/%s: %w", s.Bucket, key, err)
	}
	h := destHead{etag: aws.ToString(out.ETag), generation: out.Metadata[transfer.SourceGenerationMetadataKey]}
	// A composite checksum (a checksum of part checksums, "...-N") is not
	// the object's CRC32C and cannot be compared with GCS's.
	if c := aws.ToString(out.ChecksumCRC32C); c != "" && out.ChecksumType != types.ChecksumTypeComposite && !strings.Contains(c, "-") {
		h.crc32c = c
	}
	return h, nil
}

// isNotFound reports a 404 from S3.
func isNotFound(err error) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// Resolve settles what the listings could not: for a candidate (the source
// changed after S3's object was written) or, with deep, for every key in
// both, it HEADs S3's object and compares its source-generation metadata
// with the source's generation; with deep it also compares S3's
// full-object CRC32C with the source's. It records the HEAD's ETag in
// e.Dest.ETag: a refresh may only replace that exact object.
func (s *Sides) Resolve(ctx context.Context, e *Entry, deep bool) error {
	if e.Kind != KindSame || !e.Candidate && !deep {
		return nil
	}
	h, err := s.headDest(ctx, e.Key, deep)
	if isNotFound(err) { // deleted since it was listed
		e.Kind, e.Reason = KindMissing, "deleted from S3 after it was listed"
		return nil
	}
	if err != nil {
		return err
	}
	e.Dest.ETag = h.etag
	switch {
	case h.generation == "" && e.Candidate:
		e.Kind, e.Reason = KindForeign, "the source changed after S3's object was written, and S3's object has no "+transfer.SourceGenerationMetadataKey+" metadata: not a copy made by this system"
		return nil
	case h.generation != "" && e.Source.Generation != "" && h.generation != e.Source.Generation:
		e.Kind, e.Reason = KindStale, "generation: source "+e.Source.Generation+", S3 holds a copy of "+h.generation
		return nil
	}
	if !deep {
		return nil
	}
	src, err := s.SourceHead.Head(ctx, e.Key, "")
	if err != nil {
		return fmt.Errorf("deep check of %q: %w", e.Key, err)
	}
	switch {
	case src.CRC32C == nil:
		e.Kind, e.Reason = KindUnverified, "the source publishes no CRC32C"
	case h.crc32c == "":
		e.Kind, e.Reason = KindUnverified, "S3 has no full-object CRC32C for it"
	case h.crc32c != encodeCRC32C(*src.CRC32C):
		e.Kind, e.Reason = KindStale, "crc32c: source "+encodeCRC32C(*src.CRC32C)+", S3 "+h.crc32c
	}
	return nil
}

func encodeCRC32C(c uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], c)
	return base64.StdEncoding.EncodeToString(b[:])
}
