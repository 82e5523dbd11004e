package standin

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// SecretsManager is a stand-in for AWS Secrets Manager on 127.0.0.1, for the
// local harness and tests only. It is not Secrets Manager: it speaks just
// GetSecretValue of the JSON 1.1 protocol (POST /, X-Amz-Target:
// secretsmanager.GetSecretValue), which is all the origin-request function
// and the transfer function call, checks no signature, and keeps secrets in
// memory. Both SDKs reach it through AWS_ENDPOINT_URL_SECRETS_MANAGER.
type SecretsManager struct {
	Endpoint string // http://127.0.0.1:PORT

	srv *http.Server

	mu      sync.Mutex
	secrets map[string]string
	version map[string]int
	calls   []SecretRead
}

// SecretRead is one GetSecretValue call the stand-in answered.
type SecretRead struct {
	SecretID  string
	UserAgent string    // tells the JavaScript SDK (aws-sdk-js) from the Go one (aws-sdk-go-v2)
	At        time.Time // the request arrived
	// Answered is when the answer was about to be written: the caller has
	// the value only after this, so a cache it keeps counts from later.
	Answered time.Time
	Found    bool
}

// StartSecretsManager listens on a free 127.0.0.1 port.
func StartSecretsManager() (*SecretsManager, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("secrets manager stand-in: %w", err)
	}
	s := &SecretsManager{Endpoint: "http://" + ln.Addr().String(), secrets: map[string]string{}, version: map[string]int{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Put sets a secret's string value (a new version of it).
func (s *SecretsManager) Put(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = value
	s.version[id]++
}

// Value returns a secret's current string value.
func (s *SecretsManager) Value(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.secrets[id]
	return v, ok
}

// Reads lists the GetSecretValue calls answered so far whose user agent
// contains agent ("" for all).
func (s *SecretsManager) Reads(agent string) []SecretRead {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SecretRead
	for _, c := range s.calls {
		if strings.Contains(c.UserAgent, agent) {
			out = append(out, c)
		}
	}
	return out
}

// Close stops the server.
func (s *SecretsManager) Close() error { return s.srv.Close() }

func (s *SecretsManager) serve(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, typ, msg string) {
		answer(status, map[string]string{"__type": typ, "message": msg})
	}
	if r.Method != http.MethodPost {
		fail(http.StatusBadRequest, "InvalidRequestException", "POST only")
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "secretsmanager.GetSecretValue" {
		fail(http.StatusBadRequest, "InvalidActionException", fmt.Sprintf("%q is not offered by the stand-in", target))
		return
	}
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(http.StatusBadRequest, "InvalidRequestException", "body is not JSON")
		return
	}
	s.mu.Lock()
	value, ok := s.secrets[in.SecretID]
	version := s.version[in.SecretID]
	s.calls = append(s.calls, SecretRead{SecretID: in.SecretID, UserAgent: r.Header.Get("User-Agent"), At: arrived, Answered: time.Now(), Found: ok})
	s.mu.Unlock()
	if !ok {
		fail(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	answer(http.StatusOK, map[string]any{
		// The account is AWS's documentation placeholder.
		"ARN":          "arn:aws:secretsmanager:us-east-1:111122223333:secret:" + in.SecretID + "-AbCdEf",
		"Name":         in.SecretID,
		"SecretString": value,
		"VersionId":    fmt.Sprintf("v%d", version),
		"CreatedDate":  float64(time.Now().Unix()),
	})
}
