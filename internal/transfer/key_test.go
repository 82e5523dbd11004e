package transfer

import "testing"

func TestValidateKeyRefusesOnlyWholeDotSegments(t *testing.T) {
	for _, key := range []string{"a..b/.c/d.", "...", ".hidden/x..", "a/.../b"} {
		if err := ValidateKey(key); err != nil {
			t.Errorf("%q: %v, want it accepted: only whole . and .. segments are refused", key, err)
		}
	}
}
