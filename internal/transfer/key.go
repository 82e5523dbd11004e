package transfer

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyBytes is S3's key length limit.
const MaxKeyBytes = 1024

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
