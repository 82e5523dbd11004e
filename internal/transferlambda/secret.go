package transferlambda

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
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

// SourceCredentials reads the HMAC key pair once (at init, so once per
// container) and returns it as static SigV4 credentials.
func SourceCredentials(ctx context.Context, sm SecretsAPI, secretARN string) (aws.CredentialsProvider, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretARN})
	if err != nil {
		return nil, fmt.Errorf("read source HMAC secret: %w", err)
	}
	var s hmacSecret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil {
		return nil, fmt.Errorf("source HMAC secret is not JSON {\"accessKeyId\",\"secretAccessKey\"}: %w", err)
	}
	if s.AccessKeyID == "" || s.SecretAccessKey == "" {
		return nil, fmt.Errorf("source HMAC secret lacks accessKeyId or secretAccessKey")
	}
	return credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""), nil
}
