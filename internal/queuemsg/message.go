// Package queuemsg is the transfer queue's message: the one contract
// between the producers (the edge function, lambda/edge/index.mjs; the
// backtoorigin command's backfill and redrive, internal/migrate; the
// transfer Lambda's own continuations) and its consumer (the transfer
// Lambda, internal/transferlambda). README.md in this folder documents the
// format; testdata/ holds the bodies every side's tests are held to.
package queuemsg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// Version is the only transfer message version the transfer Lambda reads.
const Version = 1

// Message is the transfer queue's message body (see the contract in the
// package documentation). Size, Generation and ETag are what the origin
// response carried when the edge saw it; the engine reads the source's
// current metadata itself and uses them for logging only.
type Message struct {
	V          int              `json:"v"`
	Key        string           `json:"key"`
	Size       *int64           `json:"size,omitempty"`
	Generation string           `json:"generation,omitempty"`
	ETag       string           `json:"etag,omitempty"`
	Resume     *transfer.Resume `json:"resume,omitempty"`
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

// ErrMalformed marks a message that can never succeed.
var ErrMalformed = errors.New("malformed transfer message")

// Parse decodes and validates a message body. Every error wraps
// ErrMalformed and says why, for the dead-letter queue.
func Parse(body string) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: invalid JSON: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Message{}, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	if m.V != Version {
		return Message{}, fmt.Errorf("%w: unsupported version %d (want %d)", ErrMalformed, m.V, Version)
	}
	if err := transfer.ValidateKey(m.Key); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.Size != nil && *m.Size < 0 {
		return Message{}, fmt.Errorf("%w: negative size %d", ErrMalformed, *m.Size)
	}
	if m.Refresh != nil && m.Refresh.ETag == "" {
		return Message{}, fmt.Errorf("%w: refresh needs the etag of the object it replaces", ErrMalformed)
	}
	if m.Resume != nil {
		if err := m.Resume.Validate(); err != nil {
			return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return m, nil
}

// KeyHash is the lowercase hex SHA-256 of the key: the FIFO message group
// id, and the deduplication id of the edge handler's messages.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
