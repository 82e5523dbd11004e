package transfer

import "testing"

func TestObjectURLPathStyleAndVirtualHosted(t *testing.T) {
	for endpoint, want := range map[string]string{
		"https://storage.googleapis.com":        "https://storage.googleapis.com/b/a%20b%2Bc.png?generation=7",
		"https://{bucket}.s3.example.com:8443":  "https://b.s3.example.com:8443/a%20b%2Bc.png?generation=7",
		"http://127.0.0.1:9000/":                "http://127.0.0.1:9000/b/a%20b%2Bc.png?generation=7",
		"https://{bucket}.storage.example.com/": "https://b.storage.example.com/a%20b%2Bc.png?generation=7",
	} {
		s := &Source{Endpoint: endpoint, Bucket: "b"}
		u, err := s.objectURL("a b+c.png", "7")
		if err != nil {
			t.Fatalf("%s: %v", endpoint, err)
		}
		if u.String() != want {
			t.Errorf("%s: %s, want %s", endpoint, u, want)
		}
	}
}
