// Package queuemsgtest gives the tests of every Go package that writes or
// reads the transfer queue's message the bodies in queuemsg/testdata, the
// fixtures the edge function's tests are held to as well.
package queuemsgtest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Fixture returns the body in queuemsg/testdata/name, without the file's
// final newline: a message body exactly as it is sent.
func Fixture(t testing.TB, name string) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("queuemsgtest: cannot locate the fixtures")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}
