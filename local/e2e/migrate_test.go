package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/local/harness"
)

// migration drives the backtoorigin binary against the local system: the
// real transfer function copies what it queues.
type migration struct {
	t   *testing.T
	ctx context.Context
	h   *harness.Harness
	bin string
	env []string
}

type run struct {
	code           int
	stdout, stderr string
}

func (m *migration) cli(args ...string) run {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.bin, append(args,
		"--bucket", harness.S3Bucket, "--source-bucket", harness.GCSBucket, "--source-endpoint", m.h.GCS.URL,
		"--queue-url", m.h.QueueURL, "--dlq-url", m.h.DeadLetterQueueURL)...)
	cmd.Env = m.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		m.t.Fatalf("run backtoorigin: %v", err)
	}
	return run{code, out.String(), errOut.String()}
}

func (m *migration) putSource(key string, content []byte) {
	m.t.Helper()
	if _, err := m.h.GCS.PutObject(standin.GCSObject{Bucket: harness.GCSBucket, Key: key, Content: content}); err != nil {
		m.t.Fatal(err)
	}
}

func (m *migration) putS3(key string, content []byte, meta map[string]string) {
	m.t.Helper()
	if _, err := m.h.S3Client.PutObject(m.ctx, &s3.PutObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(key),
		Body: bytes.NewReader(content), Metadata: meta, ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32c}); err != nil {
		m.t.Fatal(err)
	}
}

func (m *migration) s3Object(key string) ([]byte, map[string]string, bool) {
	m.t.Helper()
	out, err := m.h.S3Client.GetObject(m.ctx, &s3.GetObjectInput{Bucket: aws.String(harness.S3Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, nil, false
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b, out.Metadata, true
}

// waitCopied waits until S3 holds want under every key and the queues are empty.
func (m *migration) waitCopied(want map[string][]byte) {
	m.t.Helper()
	waitFor(m.t, landWait, "copies of "+strings.Join(keysOf(want), ", "), func() bool {
		for k, content := range want {
			if got, _, ok := m.s3Object(k); !ok || !bytes.Equal(got, content) {
				return false
			}
		}
		d, err := m.h.QueueDepth(m.ctx, m.h.QueueURL)
		return err == nil && d == 0
	})
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func reportKinds(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct{ Kind, Key string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		got[l.Key] = l.Kind
	}
	return got
}

// TestMigrationFinishes is the long tail: objects nobody requested are
// backfilled, verify proves the copy complete, then finds what changed
// (missing, stale, extra, a CRC32C mismatch injected at S3, a foreign
// object), refresh replaces the stale copy and leaves the foreign object,
// and redrive brings a dead-lettered key back to be copied.
func TestMigrationFinishes(t *testing.T) {
	m := startMigration(t)
	for _, phase := range []struct {
		name string
		run  func(*migration)
	}{
		{"a backfill copies what no viewer asked for and verify finds nothing missing", (*migration).backfillThenVerify},
		{"verify finds what changed since: missing, stale, a CRC32C mismatch, foreign, extra", (*migration).verifyFindsChanges},
		{"backfill --refresh replaces the stale copies and leaves the foreign object", (*migration).refreshReplacesStale},
		{"redrive brings a dead-lettered key back to be copied and keeps the malformed message", (*migration).redrive},
	} {
		// Each phase starts from the state the one before left.
		if !t.Run(phase.name, func(t *testing.T) { phase.run(m.on(t)) }) {
			return
		}
	}
}

// startMigration starts the harness and builds the backtoorigin binary,
// with an environment that reaches only the stand-ins.
func startMigration(t *testing.T) *migration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), suiteWait)
	t.Cleanup(cancel)
	h, err := harness.Start(ctx, harness.Options{FunctionTimeout: 30 * time.Second, VisibilityTimeout: 35 * time.Second, TransferEnv: []string{"PART_SIZE_MIB=5"}})
	if err != nil {
		t.Fatalf("start harness: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	root, err := standin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "backtoorigin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/backtoorigin")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build backtoorigin: %v: %s", err, out)
	}
	env := append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+h.S3.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+h.S3.SecretAccessKey, "AWS_REGION="+harness.Region,
		"AWS_ENDPOINT_URL_S3="+h.S3.Endpoint, "AWS_ENDPOINT_URL_SQS="+h.SQS.Endpoint, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"),
		"XDG_CACHE_HOME="+t.TempDir())
	return &migration{t: t, ctx: ctx, h: h, bin: bin, env: env}
}

// on is the migration for one phase, its failures reported to t.
func (m *migration) on(t *testing.T) *migration {
	c := *m
	c.t = t
	return &c
}

// backfillThenVerify backfills objects never requested by any viewer (one is
// a multipart copy: 5 MiB parts) and verifies the copy complete.
func (m *migration) backfillThenVerify() {
	t := m.t
	first := map[string][]byte{
		"tail/a.txt": []byte("never requested a"), "tail/b c+d.txt": []byte("a key with a space and a plus"),
		"tail/ü.bin": randomBytes(t, 12<<20), "keep/stale.txt": []byte("version one"), "keep/crc.txt": []byte("the original bytes"),
	}
	for k, v := range first {
		m.putSource(k, v)
	}
	r := m.cli("backfill", "--max-queued", "3")
	if r.code != 0 || !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "queued 5 objects") {
		t.Fatalf("backfill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m.waitCopied(first)
	if r = m.cli("verify", "--deep"); r.code != 0 {
		t.Fatalf("verify after the backfill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// verifyFindsChanges makes what happens next (a new object, a source
// change, someone else's object, bytes changed at S3, an object only S3
// has) and checks that verify reports each.
func (m *migration) verifyFindsChanges() {
	t := m.t
	m.putSource("tail/new.txt", []byte("written after the backfill"))
	m.putSource("keep/stale.txt", []byte("version two, longer"))
	m.putS3("keep/foreign.txt", []byte("written by hand!"), nil)
	m.putSource("keep/foreign.txt", []byte("the source's one"))
	_, meta, _ := m.s3Object("keep/crc.txt")
	m.putS3("keep/crc.txt", []byte("the 0riginal bytes"), meta)
	m.putS3("only/in/s3.txt", []byte("extra"), nil)

	report := filepath.Join(t.TempDir(), "report.jsonl")
	r := m.cli("verify", "--deep", "--report", report)
	if r.code != 1 {
		t.Fatalf("verify: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := map[string]string{"tail/new.txt": "missing", "keep/stale.txt": "stale", "keep/crc.txt": "stale", "keep/foreign.txt": "foreign", "only/in/s3.txt": "extra"}
	if got := reportKinds(t, report); !maps.Equal(got, want) {
		t.Fatalf("report %v\nwant   %v", got, want)
	}
}

// refreshReplacesStale runs backfill --refresh after verifyFindsChanges:
// the missing and the stale source copies are copied, the foreign object is
// left, and verify then reports only what refresh does not touch.
func (m *migration) refreshReplacesStale() {
	t := m.t
	r := m.cli("backfill", "--refresh")
	if r.code != 0 || !strings.Contains(r.stderr, "not replaced: keep/foreign.txt") {
		t.Fatalf("backfill --refresh: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m.waitCopied(map[string][]byte{"tail/new.txt": []byte("written after the backfill"), "keep/stale.txt": []byte("version two, longer")})
	if got, _, _ := m.s3Object("keep/foreign.txt"); string(got) != "written by hand!" {
		t.Fatalf("the foreign object was replaced: %q", got)
	}
	report := filepath.Join(t.TempDir(), "report.jsonl")
	r = m.cli("verify", "--deep", "--report", report)
	want := map[string]string{"keep/crc.txt": "stale", "keep/foreign.txt": "foreign", "only/in/s3.txt": "extra"}
	if got := reportKinds(t, report); r.code != 1 || !maps.Equal(got, want) {
		t.Fatalf("verify after the refresh: exit %d, report %v\n%s", r.code, got, r.stderr)
	}
}

// redrive: a key dead-lettered by the transfer function (its wrapper), and
// one filed malformed by the real function, which stays.
func (m *migration) redrive() {
	t, ctx, h := m.t, m.ctx, m.h
	m.putSource("dead/lettered.txt", []byte("copied after the redrive"))
	for _, body := range []string{
		`{"reason":"no part finished within an invocation 3 times in a row","messageId":"m1","body":"{\"v\":1,\"key\":\"dead/lettered.txt\"}"}`,
	} {
		if _, err := h.SQSClient.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.DeadLetterQueueURL), MessageBody: aws.String(body),
			MessageGroupId: aws.String("no-progress"), MessageDeduplicationId: aws.String("m1")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.SQSClient.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.QueueURL), MessageBody: aws.String(`{"v":2,"key":"from/the/future"}`),
		MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("future")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, landWait, "the malformed message in the dead-letter queue", func() bool {
		d, err := h.QueueDepth(ctx, h.DeadLetterQueueURL)
		return err == nil && d == 2
	})
	r := m.cli("redrive")
	if r.code != 1 || !strings.Contains(r.stdout, "moved      dead/lettered.txt") || !strings.Contains(r.stdout, "unsupported version 2") {
		t.Fatalf("redrive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m.waitCopied(map[string][]byte{"dead/lettered.txt": []byte("copied after the redrive")})
	if d, err := h.QueueDepth(ctx, h.DeadLetterQueueURL); err != nil || d != 1 {
		t.Fatalf("dead-letter queue holds %d (%v), want the malformed message only", d, err)
	}
}
