package standin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// AccessKey is an access key pair of a stand-in account.
type AccessKey struct {
	AccessKeyID     string
	SecretAccessKey string
}

// StartS3IAM starts versitygw as StartS3 does, with its internal IAM kept
// in iamDir (which must exist, outside dir, which versitygw reads as its
// buckets), so that accounts other than root can be added and deleted while
// it runs: AddReader, RemoveReader. A key given out that way can be
// withdrawn without a restart, the way a rotated HMAC key is deleted at
// the source. versitygw only (STANDIN_S3 is not consulted).
//
// What this relies on, from versitygw v1.8.0's source:
//   - --iam-dir selects the internal IAM service, which keeps accounts in
//     a file there (auth/iam.go New, auth/iam_internal.go NewInternal);
//     the root account from ROOT_ACCESS_KEY_ID stays the admin.
//   - Without --admin-port the admin API (PATCH /create-user,
//     /delete-user, signed by an admin) is served on the S3 port
//     (embedgw/embedgw.go: WithAdminServer when AdminPorts is empty;
//     s3api/router.go).
//   - Deleting an account through the admin API drops it from the IAM
//     cache in the same call (auth/iam_cache.go DeleteUserAccount), so the
//     next request signed with it finds no account: ErrNoSuchUser, answered
//     as InvalidAccessKeyId, HTTP 403 (s3api/middlewares/authentication.go,
//     s3err/s3err.go), not after the cache's 120 s TTL.
func StartS3IAM(ctx context.Context, dir, iamDir string) (*S3Server, error) {
	bin, err := ToolPath("versitygw")
	if err != nil {
		return nil, err
	}
	s, err := retryFreePort(func() (*S3Server, error) {
		return startVersityGW(ctx, bin, dir, nil, []string{"--iam-dir", iamDir})
	})
	if err != nil {
		return nil, err
	}
	s.iam = true
	s.readers = map[string][]AccessKey{}
	return s, nil
}

// AddReader creates an account with a fresh key that may only read the
// objects of bucket, and returns its key. The account has versitygw's
// "user" role, which may do only what a bucket's policy or ACL grants it
// (auth/access-control.go: authorization applies to everyone but root and
// the "admin" role); the bucket's policy is rewritten to let exactly the
// readers added and not removed s3:GetObject, which versitygw checks for
// GET and HEAD alike (s3api/controllers/object-get.go, object-head.go). An
// internal-IAM account is named in a policy by its access key id
// (auth/bucket_policy_principals.go matchFor), and every principal must
// exist when the policy is put (Principals.Validate). Anonymous requests
// stay refused: the policy names no "*".
func (s *S3Server) AddReader(ctx context.Context, bucket string) (AccessKey, error) {
	if !s.iam {
		return AccessKey{}, errors.New("add reader: the stand-in was not started with StartS3IAM")
	}
	key := AccessKey{AccessKeyID: "reader" + randomSecret(6), SecretAccessKey: randomSecret(20)}
	// The body versitygw's own `admin create-user` sends: an auth.Account
	// as XML (cmd/internal/gwcli/admin.go createUser).
	body, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"Account"`
		Access  string
		Secret  string
		Role    string
	}{Access: key.AccessKeyID, Secret: key.SecretAccessKey, Role: "user"})
	if err != nil {
		return AccessKey{}, err
	}
	if err := s.admin(ctx, "/create-user", nil, body); err != nil {
		return AccessKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	readers := append(slices.Clone(s.readers[bucket]), key)
	if err := s.putReadPolicy(ctx, bucket, readers); err != nil {
		return AccessKey{}, err
	}
	s.readers[bucket] = readers
	return key, nil
}

// RemoveReader deletes the reader account accessKeyID (from AddReader) while
// the server keeps running, then lets only the remaining readers read
// bucket. From the deletion on, a request signed with its key is a 403
// InvalidAccessKeyId (see StartS3IAM).
func (s *S3Server) RemoveReader(ctx context.Context, bucket, accessKeyID string) error {
	if !s.iam {
		return errors.New("remove reader: the stand-in was not started with StartS3IAM")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	readers := slices.DeleteFunc(slices.Clone(s.readers[bucket]), func(k AccessKey) bool { return k.AccessKeyID == accessKeyID })
	if len(readers) == len(s.readers[bucket]) {
		return fmt.Errorf("remove reader: %q is not a reader of %q", accessKeyID, bucket)
	}
	if err := s.admin(ctx, "/delete-user", url.Values{"access": {accessKeyID}}, nil); err != nil {
		return err
	}
	s.readers[bucket] = readers
	return s.putReadPolicy(ctx, bucket, readers)
}

// putReadPolicy lets readers (and nobody else but root) read bucket's
// objects; with no readers the policy goes.
func (s *S3Server) putReadPolicy(ctx context.Context, bucket string, readers []AccessKey) error {
	if len(readers) == 0 {
		if _, err := s.Client().DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)}); err != nil {
			return fmt.Errorf("delete the policy of %q: %w", bucket, err)
		}
		return nil
	}
	ids := make([]string, len(readers))
	for i, k := range readers {
		ids[i] = k.AccessKeyID
	}
	policy, err := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string][]string{"AWS": ids},
			"Action":    []string{"s3:GetObject"},
			"Resource":  []string{"arn:aws:s3:::" + bucket + "/*"},
		}},
	})
	if err != nil {
		return err
	}
	if _, err := s.Client().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(string(policy))}); err != nil {
		return fmt.Errorf("put the read policy of %q: %w", bucket, err)
	}
	return nil
}

// admin calls versitygw's admin API as root, the way its `admin` command
// does (cmd/internal/gwcli/admin.go): PATCH, SigV4 with service s3 and the
// server's region, the payload's SHA-256 in X-Amz-Content-Sha256 (which
// the admin routes require).
func (s *S3Server) admin(ctx context.Context, path string, query url.Values, body []byte) error {
	u := s.Endpoint + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("versitygw admin %s: %w", path, err)
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payloadHash, "s3", s.Region, time.Now()); err != nil {
		return fmt.Errorf("versitygw admin %s: sign: %w", path, err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: s.RootCAs}}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("versitygw admin %s: %w", path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("versitygw admin %s: %s: %s", path, resp.Status, answer)
	}
	return nil
}

// NewS3IAM starts a StartS3IAM stand-in in temporary folders for the test
// and stops it when the test ends.
func NewS3IAM(tb testing.TB) *S3Server {
	tb.Helper()
	s, err := StartS3IAM(context.Background(), tb.TempDir(), tb.TempDir())
	if err != nil {
		tb.Fatalf("start S3 stand-in with IAM: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
