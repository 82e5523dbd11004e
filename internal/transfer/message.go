package transfer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MessageVersion is the only transfer message version this engine reads.
const MessageVersion = 1

// MaxKeyBytes is S3's key length limit.
const MaxKeyBytes = 1024

// Message is the transfer queue's message body (see the contract in the
// package documentation). Size, Generation and ETag are what the origin
// response carried when the edge saw it; the engine reads the source's
// current metadata itself and uses them for logging only.
type Message struct {
	V          int     `json:"v"`
	Key        string  `json:"key"`
	Size       *int64  `json:"size,omitempty"`
	Generation string  `json:"generation,omitempty"`
	ETag       string  `json:"etag,omitempty"`
	Resume     *Resume `json:"resume,omitempty"`
	// Refresh is set only by `backtoorigin backfill --refresh`: replace
	// S3's object under the key, and only while it is still the object
	// that command inspected (see Refresh).
	Refresh *Refresh `json:"refresh,omitempty"`
}

// Refresh asks for S3's copy of an object that changed at the source to be
// replaced. The write carries If-Match: ETag instead of If-None-Match: *,
// so it replaces exactly the object whose HEAD showed it to be a copy made
// by this system (source-generation metadata) of an older generation, and
// nothing that was written under the key since.
type Refresh struct {
	ETag string `json:"etag"`
}

// Resume identifies a multipart upload left open by an earlier invocation
// that ran out of time. PartSize must be the size its parts were cut to.
type Resume struct {
	UploadID   string `json:"uploadId"`
	Generation string `json:"generation"`
	PartSize   int64  `json:"partSize"`
	// NoProgress counts the invocations in a row that started parts and
	// finished none; at MaxNoProgress the copy ends as OutcomeNoProgress.
	NoProgress int `json:"noProgress,omitempty"`
}

// ErrMalformedMessage marks a message that can never succeed.
var ErrMalformedMessage = errors.New("malformed transfer message")

// ParseMessage decodes and validates a message body. Every error wraps
// ErrMalformedMessage and says why, for the dead-letter queue.
func ParseMessage(body string) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: invalid JSON: %v", ErrMalformedMessage, err)
	}
	if dec.More() {
		return Message{}, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformedMessage)
	}
	if m.V != MessageVersion {
		return Message{}, fmt.Errorf("%w: unsupported version %d (want %d)", ErrMalformedMessage, m.V, MessageVersion)
	}
	if err := ValidateKey(m.Key); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	if m.Size != nil && *m.Size < 0 {
		return Message{}, fmt.Errorf("%w: negative size %d", ErrMalformedMessage, *m.Size)
	}
	if m.Refresh != nil && m.Refresh.ETag == "" {
		return Message{}, fmt.Errorf("%w: refresh needs the etag of the object it replaces", ErrMalformedMessage)
	}
	if r := m.Resume; r != nil {
		if r.UploadID == "" || r.PartSize < minPartSize || r.PartSize > maxPartSize || r.NoProgress < 0 {
			return Message{}, fmt.Errorf("%w: resume needs an uploadId, a partSize between %d and %d and a noProgress count of 0 or more", ErrMalformedMessage, minPartSize, maxPartSize)
		}
	}
	return m, nil
}

// ValidateKey checks that key is a usable S3 key that names exactly one
// source object: 1..1024 bytes of UTF-8 without a "." or ".." path
// segment. A front end that normalises paths would read "a/../b" as "b",
// or "../other/x" from another bucket; escaping the dots is no cure while
// it cannot be checked that Google's front end leaves "%2E" alone.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("key is %d bytes, S3 allows %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return errors.New("key is not valid UTF-8")
	}
	for _, segment := range strings.Split(key, "/") {
		if segment == "." || segment == ".." {
			return fmt.Errorf("key has a %q path segment, which a front end may resolve to another object", segment)
		}
	}
	return nil
}

// KeyHash is the lowercase hex SHA-256 of the key: the FIFO message group
// id, and the deduplication id of the edge handler's messages.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
