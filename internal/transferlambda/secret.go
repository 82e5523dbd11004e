package transferlambda

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

// SecretsAPI is the Secrets Manager call used to read the HMAC key.
type SecretsAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// hmacSecret is the secret's JSON: a GCS HMAC key pair.
type hmacSecret struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// MinSecretRereadInterval bounds re-reads after 403s: a bucket without public
// listing answers 403 for every missing object, and each must not cost a
// Secrets Manager call.
const MinSecretRereadInterval = 30 * time.Second

// SecretCredentials are the HMAC key pair as SigV4 credentials: read once
// (at init, so once per container), and again on Refresh, which the source
// calls on a 403 before calling the object forbidden.
type SecretCredentials struct {
	sm        SecretsAPI
	secretARN string
	now       func() time.Time

	mu     sync.Mutex
	creds  aws.Credentials
	readAt time.Time
}

var _ transfer.CredentialsRefresher = (*SecretCredentials)(nil)

// SourceCredentials reads the HMAC key pair now and returns it as a
// refreshable credentials provider.
func SourceCredentials(ctx context.Context, sm SecretsAPI, secretARN string) (*SecretCredentials, error) {
	c := &SecretCredentials{sm: sm, secretARN: secretARN, now: time.Now}
	creds, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	c.creds, c.readAt = creds, c.now()
	return c, nil
}

func (c *SecretCredentials) read(ctx context.Context) (aws.Credentials, error) {
	out, err := c.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &c.secretARN})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("read source HMAC secret: %w", err)
	}
	var s hmacSecret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil {
		return aws.Credentials{}, fmt.Errorf("source HMAC secret is not JSON {\"accessKeyId\",\"secretAccessKey\"}: %w", err)
	}
	if s.AccessKeyID == "" || s.SecretAccessKey == "" {
		return aws.Credentials{}, fmt.Errorf("source HMAC secret lacks accessKeyId or secretAccessKey")
	}
	return aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, Source: "SourceHMACSecret"}, nil
}

// Retrieve returns the key read last.
func (c *SecretCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creds, nil
}

// Refresh reads the secret again, unless it was read within
// MinSecretRereadInterval, and reports whether the key changed.
func (c *SecretCredentials) Refresh(ctx context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now().Sub(c.readAt) < MinSecretRereadInterval {
		return false, nil
	}
	creds, err := c.read(ctx)
	c.readAt = c.now()
	if err != nil {
		return false, err
	}
	changed := creds.AccessKeyID != c.creds.AccessKeyID || creds.SecretAccessKey != c.creds.SecretAccessKey
	c.creds = creds
	return changed, nil
}
