package standin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StartS3TLS starts versitygw as StartS3 does, but serving HTTPS with a
// certificate for 127.0.0.1 made on the spot (written to tlsDir, kept out
// of dir, which versitygw reads as its buckets). Clients from s.Client
// trust it. Real S3 is only spoken over HTTPS, where the SDK behaves
// differently (trailing checksums, for one), so this is how tests see
// that path.
func StartS3TLS(ctx context.Context, dir, tlsDir string) (*S3Server, error) {
	bin, err := ToolPath("versitygw")
	if err != nil {
		return nil, err
	}
	cert, err := selfSignedCert(tlsDir)
	if err != nil {
		return nil, err
	}
	return retryFreePort(func() (*S3Server, error) { return startVersityGW(ctx, bin, dir, cert, nil) })
}

// serverCert is a certificate and key on disk and a pool that trusts it.
type serverCert struct {
	certFile, keyFile string
	roots             *x509.CertPool
}

// NewS3TLS starts an HTTPS S3 stand-in for the test and stops it when the
// test ends.
func NewS3TLS(tb testing.TB) *S3Server {
	tb.Helper()
	s, err := StartS3TLS(context.Background(), tb.TempDir(), tb.TempDir())
	if err != nil {
		tb.Fatalf("start HTTPS S3 stand-in: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// selfSignedCert writes a certificate and key for 127.0.0.1 to dir.
func selfSignedCert(dir string) (*serverCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate TLS key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "S3 stand-in"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode TLS key: %w", err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &serverCert{certFile: certFile, keyFile: keyFile, roots: roots}, nil
}
