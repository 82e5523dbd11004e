package transfer

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// withoutAWSChunked drops the aws-chunked token from a Content-Encoding: it
// frames a SigV4 streaming upload and is never the object's coding. S3 does
// not store it nor return it, but some S3-compatible stores do (Ceph RGW
// did until ceph/ceph#65219; versitygw v1.8.0 returns it for an object
// uploaded with a checksum trailer), and copying it would tell viewers the
// bytes are chunk-framed.
func withoutAWSChunked(v *string) *string {
	if v == nil {
		return nil
	}
	var kept []string
	for _, coding := range strings.Split(*v, ",") {
		if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "aws-chunked") {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	joined := strings.Join(kept, ",")
	return &joined
}

// SourceGenerationMetadataKey is the S3 user-metadata key (served as
// x-amz-meta-source-generation) recording which source version was copied.
const SourceGenerationMetadataKey = "source-generation"

// objectHeaders are the source's object headers in their S3 form. They map
// themselves onto both inputs that create an object (a PutObject, or the
// CreateMultipartUpload of one that is uploaded in parts), so a small and a
// large object carry the same headers; each field is named as in both SDK
// input types, which TestObjectHeadersFillBothInputsAlike holds them to.
type objectHeaders struct {
	ContentType, CacheControl, ContentEncoding, ContentDisposition, ContentLanguage *string
	Metadata                                                                        map[string]string
}

func (h objectHeaders) applyPut(in *s3.PutObjectInput) {
	h.fill(&in.ContentType, &in.CacheControl, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage, &in.Metadata)
}

func (h objectHeaders) applyCreate(in *s3.CreateMultipartUploadInput) {
	h.fill(&in.ContentType, &in.CacheControl, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage, &in.Metadata)
}

// fill is the one list of the header fields, each given as the input's
// own field: a header added to its parameters must be passed by both apply
// methods, or neither compiles.
func (h objectHeaders) fill(contentType, cacheControl, contentEncoding, contentDisposition, contentLanguage **string, metadata *map[string]string) {
	*contentType, *cacheControl, *contentEncoding = h.ContentType, h.CacheControl, h.ContentEncoding
	*contentDisposition, *contentLanguage = h.ContentDisposition, h.ContentLanguage
	*metadata = h.Metadata
}

// headersFor maps the source's headers to S3: the standard object headers
// one to one, x-goog-meta-NAME (or x-amz-meta-NAME from an S3-compatible
// origin) to user metadata NAME, plus the source generation for provenance.
func headersFor(obj SourceObject) objectHeaders {
	h := obj.Header
	opt := func(name string) *string {
		if v := h.Get(name); v != "" {
			return &v
		}
		return nil
	}
	out := objectHeaders{
		ContentType:        opt("Content-Type"),
		CacheControl:       opt("Cache-Control"),
		ContentEncoding:    opt("Content-Encoding"),
		ContentDisposition: opt("Content-Disposition"),
		ContentLanguage:    opt("Content-Language"),
		Metadata:           map[string]string{},
	}
	out.ContentEncoding = withoutAWSChunked(out.ContentEncoding)
	// Not transcoded (we accept gzip), so a gzip object reports its stored
	// encoding here; keep it so S3 serves the same bytes with the same meaning.
	if out.ContentEncoding == nil {
		if v := h.Get("X-Goog-Stored-Content-Encoding"); v != "" && v != "identity" {
			out.ContentEncoding = &v
		}
	}
	for name, values := range h {
		lower := strings.ToLower(name)
		for _, prefix := range []string{"x-goog-meta-", "x-amz-meta-"} {
			if meta, ok := strings.CutPrefix(lower, prefix); ok && meta != "" && len(values) > 0 {
				out.Metadata[meta] = values[0]
			}
		}
	}
	if obj.Generation != "" {
		out.Metadata[SourceGenerationMetadataKey] = obj.Generation
	}
	return out
}
