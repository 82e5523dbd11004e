package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backtoorigin/backtoorigin/internal/queuemsg"
	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transfer"
)

const (
	srcBucket = "legacy"
	dstBucket = "migrated"
)

// world is a source, a destination and a queue on 127.0.0.1, with the
// CLI's environment pointing at them.
type world struct {
	t        *testing.T
	ctx      context.Context
	gcs      *standin.GCS
	s3       *standin.S3Server
	s3c      *s3.Client
	sqs      *standin.SQSServer
	queueURL string
	engine   *transfer.Engine
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, ctx: ctx, gcs: standin.NewGCS(t), s3: standin.NewS3(t), sqs: standin.NewSQS(t)}
	w.gcs.CreateBucket(srcBucket, false)
	if err := w.s3.CreateBucket(ctx, dstBucket); err != nil {
		t.Fatal(err)
	}
	w.s3c = w.s3.Client()
	var err error
	if w.queueURL, err = w.sqs.CreateQueue(ctx, "transfer.fifo", true); err != nil {
		t.Fatal(err)
	}
	w.engine, err = transfer.New(transfer.Config{S3: w.s3c, Bucket: dstBucket, Source: &transfer.Source{Endpoint: w.gcs.URL, Bucket: srcBucket},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cliEnv(t, w.s3)
	t.Setenv("AWS_ENDPOINT_URL_SQS", w.sqs.Endpoint)
	return w
}

// cliEnv gives the CLI the stand-in's credentials and nothing from the
// machine's own AWS configuration.
func cliEnv(t *testing.T, s *standin.S3Server) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": s.AccessKeyID, "AWS_SECRET_ACCESS_KEY": s.SecretAccessKey, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": standin.S3Region, "AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_S3": s.Endpoint, "AWS_ENDPOINT_URL": "",
		envHMACKeyID: "", envHMACSecret: "", "XDG_CACHE_HOME": t.TempDir(),
	} {
		t.Setenv(k, v)
	}
}

func (w *world) putSource(key, content string) {
	w.t.Helper()
	w.gcs.MustPutObject(w.t, standin.GCSObject{Bucket: srcBucket, Key: key, Content: []byte(content), ContentType: "text/plain"})
}

// copyNow copies key the way the transfer function does.
func (w *world) copyNow(key string) {
	w.t.Helper()
	res, err := w.engine.Copy(w.ctx, key, nil)
	if err != nil || res.Outcome != transfer.OutcomeCopied {
		w.t.Fatalf("copy %q: %v %v", key, res.Outcome, err)
	}
}

// putDest writes an object to S3 directly (not a copy by this system),
// with a full-object CRC32C of its own bytes, as S3 keeps for any upload
// that sends one.
func (w *world) putDest(key, content string, meta map[string]string) {
	w.t.Helper()
	if _, err := w.s3c.PutObject(w.ctx, &s3.PutObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(key), Body: strings.NewReader(content), Metadata: meta,
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32c}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) localFlags(extra ...string) []string {
	return append([]string{"--bucket", dstBucket, "--source-bucket", srcBucket, "--source-endpoint", w.gcs.URL, "--queue-url", w.queueURL}, extra...)
}

type result struct {
	code           int
	stdout, stderr string
}

func cli(t *testing.T, args ...string) result {
	t.Helper()
	// verify and backfill set the process's memory limit for a listing
	// alone; the test process holds the stand-ins too.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// mixed fills both sides with one key of every kind:
//
//	a           copied, unchanged                       same
//	b/missing   never requested                         missing
//	c/size      changed at the source (other size)      stale (size)
//	d/gen       changed at the source (same size)       stale (generation)
//	e/extra     only in S3                              extra
//	f/foreign   in S3 without source-generation, then
//	            changed at the source                   foreign
//	g/crc       same size and generation, other bytes   same; --deep: stale (crc32c)
//	h ü+ x.txt  copied, a key with a space, + and ü     same
func (w *world) mixed() {
	for _, k := range []string{"a", "c/size", "d/gen", "g/crc", "h ü+ x.txt"} {
		w.putSource(k, "version one of "+k)
		w.copyNow(k)
	}
	w.putSource("b/missing", "never requested")
	w.putSource("b/./dotted", "a key the transfer refuses")
	w.putSource("c/size", "version two, longer than the first")
	w.putSource("d/gen", "version TWO of d/gen")
	w.putDest("e/extra", "only in S3", nil)
	w.putDest("f/foreign", "someone else's!!", nil) // the same size: only the HEAD can tell
	w.putSource("f/foreign", "the source's one")
	head, err := w.s3c.HeadObject(w.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String("g/crc")})
	if err != nil {
		w.t.Fatal(err)
	}
	w.putDest("g/crc", "version one of g/cr!", head.Metadata) // the CRC mismatch injected at S3
}

type line struct {
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

func readReport(t *testing.T, path string) []line {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

func kinds(lines []line) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		m[l.Key] = l.Kind
	}
	return m
}

func TestVerifyReportsEveryKindOfDifferenceInKeyOrder(t *testing.T) {
	w := newWorld(t)
	w.mixed()
	report := filepath.Join(t.TempDir(), "report.jsonl")

	r := cli(t, append([]string{"verify", "--report", report}, w.localFlags()...)...)
	if r.code != exitDifferences {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := readReport(t, report)
	want := map[string]string{"b/./dotted": "excluded", "b/missing": "missing", "c/size": "stale", "d/gen": "stale", "e/extra": "extra", "f/foreign": "foreign"}
	if got := kinds(lines); !mapsEqual(got, want) {
		t.Fatalf("report kinds %v, want %v", got, want)
	}
	if !slices.IsSortedFunc(lines, func(a, b line) int { return strings.Compare(a.Key, b.Key) }) {
		t.Fatalf("report not in key order: %v", lines)
	}
	for _, l := range lines {
		if l.Key == "d/gen" && !strings.HasPrefix(l.Reason, "generation") || l.Key == "c/size" && !strings.HasPrefix(l.Reason, "size") {
			t.Fatalf("%s: reason %q", l.Key, l.Reason)
		}
	}
	if !strings.Contains(r.stdout, "NOT complete") {
		t.Fatalf("summary: %s", r.stdout)
	}

	// --deep also finds the bytes S3 changed under a correct size and generation.
	csvReport := filepath.Join(t.TempDir(), "report.csv")
	r = cli(t, append([]string{"verify", "--deep", "--json", "--report", csvReport}, w.localFlags()...)...)
	if r.code != exitDifferences {
		t.Fatalf("deep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var sum struct {
		Source, Same, Missing, Stale, Extra, Foreign, Excluded struct{ Objects int64 }
		Complete                                               bool
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("--json: %v: %s", err, r.stdout)
	}
	if sum.Source.Objects != 8 || sum.Same.Objects != 2 || sum.Missing.Objects != 1 || sum.Excluded.Objects != 1 || sum.Stale.Objects != 3 || sum.Extra.Objects != 1 || sum.Foreign.Objects != 1 || sum.Complete {
		t.Fatalf("deep summary %+v", sum)
	}
	b, _ := os.ReadFile(csvReport)
	if !strings.Contains(string(b), "stale,g/crc,") || !strings.HasPrefix(string(b), "kind,key,") {
		t.Fatalf("csv report:\n%s", b)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestVerifyExitsZeroOnlyWhenCompleteAndIdentical(t *testing.T) {
	w := newWorld(t)
	for _, k := range []string{"x/1", "x/2", "y/ü"} {
		w.putSource(k, "content of "+k)
		w.copyNow(k)
	}
	r := cli(t, append([]string{"verify", "--deep"}, w.localFlags()...)...)
	if r.code != exitDone || !strings.Contains(r.stdout, "complete and identical") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A prefix that matches nothing is an input error, not a complete migration.
	r = cli(t, append([]string{"verify", "--prefix", "nope/"}, w.localFlags()...)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, `"nope/" matches no object`) {
		t.Fatalf("empty prefix: exit %d\n%s", r.code, r.stderr)
	}
}

// received drains the queue and returns the messages by key.
func (w *world) received() map[string][]sqstypes.Message {
	w.t.Helper()
	c := w.sqs.Client()
	got := map[string][]sqstypes.Message{}
	for empty := 0; empty < 2; {
		out, err := c.ReceiveMessage(w.ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &w.queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			// The deprecated AttributeNames: local-aws-sqs 2.0.2 ignores MessageSystemAttributeNames.
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range out.Messages {
			msg, err := queuemsg.Parse(aws.ToString(m.Body))
			if err != nil {
				w.t.Fatalf("the transfer function would reject %q: %v", aws.ToString(m.Body), err)
			}
			got[msg.Key] = append(got[msg.Key], m)
			if _, err := c.DeleteMessage(w.ctx, &sqs.DeleteMessageInput{QueueUrl: &w.queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				w.t.Fatal(err)
			}
		}
	}
	return got
}

func TestBackfillQueuesMissingKeysAsTheEdgeDoes(t *testing.T) {
	w := newWorld(t)
	w.mixed()

	// The dry run queues nothing and says what it would cost.
	r := cli(t, append([]string{"backfill", "--dry-run", "--json"}, w.localFlags()...)...)
	if r.code != exitDone {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var dry struct {
		Queued   struct{ Objects, Bytes int64 }
		Estimate struct{ GetRequests int64 }
	}
	if err := json.Unmarshal([]byte(r.stdout), &dry); err != nil {
		t.Fatal(err)
	}
	if dry.Queued.Objects != 1 || dry.Queued.Bytes != int64(len("never requested")) || dry.Estimate.GetRequests != 2 {
		t.Fatalf("dry run %+v", dry)
	}
	if got := w.received(); len(got) != 0 {
		t.Fatalf("dry run queued %v", got)
	}
	if !strings.Contains(r.stderr, "not queued: b/./dotted: the transfer would refuse it") {
		t.Fatalf("the key the transfer refuses is not named:\n%s", r.stderr)
	}

	r = cli(t, append([]string{"backfill"}, w.localFlags()...)...)
	if r.code != exitDone {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := w.received()
	if len(got) != 1 || len(got["b/missing"]) != 1 {
		t.Fatalf("queued %v, want only b/missing", got)
	}
	m := got["b/missing"][0]
	hash := queuemsg.KeyHash("b/missing")
	if m.Attributes["MessageGroupId"] != hash || m.Attributes["MessageDeduplicationId"] != hash {
		t.Fatalf("group/dedup %v, want sha256 of the key as the edge sends", m.Attributes)
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &body)
	for _, field := range []string{"v", "key", "size", "generation", "etag"} {
		if _, ok := body[field]; !ok {
			t.Fatalf("message %s lacks %q", aws.ToString(m.Body), field)
		}
	}
	if _, ok := body["refresh"]; ok {
		t.Fatalf("a missing key's message asks for a refresh: %s", aws.ToString(m.Body))
	}
}

func TestBadInputIsExitTwoWithAClearMessage(t *testing.T) {
	w := newWorld(t)
	w.putSource("k", "v")

	r := cli(t, append([]string{"backfill"}, append(w.localFlags(), "--queue-url", w.sqs.Endpoint+"/000000000000/nope.fifo")...)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("missing queue: exit %d\n%s", r.code, r.stderr)
	}
	r = cli(t, "status", "--queue-url", w.sqs.Endpoint+"/000000000000/nope.fifo", "--dlq-url", w.queueURL)
	if r.code != exitUsage || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("status of a missing queue: exit %d\n%s", r.code, r.stderr)
	}
	r = cli(t, "verify", "--bogus")
	if r.code != exitUsage {
		t.Fatalf("unknown flag: exit %d", r.code)
	}
	r = cli(t, "frobnicate")
	if r.code != exitUsage || !strings.Contains(r.stderr, "unknown command") {
		t.Fatalf("unknown command: exit %d %s", r.code, r.stderr)
	}
	r = cli(t, "backfill", "--help")
	if r.code != exitDone || !strings.Contains(r.stdout, "--max-queued") {
		t.Fatalf("--help: exit %d\n%s", r.code, r.stdout)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	r = cli(t, append([]string{"verify"}, w.localFlags()...)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "no AWS credentials") {
		t.Fatalf("no credentials: exit %d\n%s", r.code, r.stderr)
	}
}

// fakeCloudFormation answers DescribeStacks for one stack, as CloudFormation's
// query protocol does; any other stack name does not exist.
func fakeCloudFormation(t *testing.T, stack string, outputs, params map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("Action") != "DescribeStacks" {
			http.Error(rw, "unexpected action", http.StatusBadRequest)
			return
		}
		rw.Header().Set("Content-Type", "text/xml")
		if name := r.Form.Get("StackName"); name != stack {
			rw.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(rw, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id %s does not exist</Message></Error><RequestId>1</RequestId></ErrorResponse>`, name)
			return
		}
		members := func(kind string, m map[string]string) string {
			var b strings.Builder
			for k, v := range m {
				fmt.Fprintf(&b, "<member><%sKey>%s</%sKey><%sValue>%s</%sValue></member>", kind, k, kind, kind, v, kind)
			}
			return b.String()
		}
		fmt.Fprintf(rw, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>
<StackName>%s</StackName><StackId>id</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus>
<Parameters>%s</Parameters><Outputs>%s</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
			stack, members("Parameter", params), members("Output", outputs))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTheStackOutputsNameTheBucketsAndQueues(t *testing.T) {
	w := newWorld(t)
	w.putSource("only/at/source", "x")
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", fakeCloudFormation(t, "BackToOrigin",
		map[string]string{"BucketName": dstBucket, "TransferQueueUrl": w.queueURL, "DeadLetterQueueUrl": w.queueURL, "DistributionId": "E123"},
		map[string]string{"gcsBucketName": srcBucket}))

	r := cli(t, "backfill", "--source-endpoint", w.gcs.URL, "--json")
	if r.code != exitDone || !strings.Contains(r.stdout, `"objects": 1`) {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := w.received(); len(got["only/at/source"]) != 1 {
		t.Fatalf("queued %v", got)
	}
	r = cli(t, "verify", "--stack", "BackToOrign", "--source-endpoint", w.gcs.URL)
	if r.code != exitUsage || !strings.Contains(r.stderr, `stack "BackToOrign" does not exist`) {
		t.Fatalf("unknown stack: exit %d\n%s", r.code, r.stderr)
	}
}

// The stack's outputs carry the deployment's key rules and source endpoint:
// a key the rules leave out is neither queued by a backfill nor counted
// missing by verify, since no copy will ever make it present.
func TestTheKeyRulesFromTheStackExcludeKeys(t *testing.T) {
	w := newWorld(t)
	for _, k := range []string{"public/a", "public/b.tmp", "private/c"} {
		w.putSource(k, "content of "+k)
	}
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", fakeCloudFormation(t, "BackToOrigin",
		map[string]string{"BucketName": dstBucket, "TransferQueueUrl": w.queueURL, "DeadLetterQueueUrl": w.queueURL,
			"SourceEndpoint": w.gcs.URL, "SourceRegion": "auto", "IncludePrefixes": `["public/"]`, "ExcludeSuffixes": `[".tmp"]`},
		map[string]string{"gcsBucketName": srcBucket}))

	r := cli(t, "backfill", "--json")
	if r.code != exitDone {
		t.Fatalf("backfill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var sum struct{ Queued, Excluded struct{ Objects int64 } }
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("--json: %v: %s", err, r.stdout)
	}
	if got := w.received(); len(got) != 1 || len(got["public/a"]) != 1 || sum.Queued.Objects != 1 || sum.Excluded.Objects != 2 {
		t.Fatalf("queued %v, summary %+v: want only public/a queued and two keys excluded", got, sum)
	}
	for _, k := range []string{"public/b.tmp", "private/c"} {
		if !strings.Contains(r.stderr, "not queued: "+k+": the key rules") {
			t.Fatalf("%s is not named as excluded:\n%s", k, r.stderr)
		}
	}

	// With the one copyable key copied, the migration is complete; the
	// excluded keys are shown, and said to live only at the source.
	w.copyNow("public/a")
	r = cli(t, "verify")
	if r.code != exitDone || !strings.Contains(r.stdout, "complete and identical") || !regexpMatch(`excluded +2 objects`, r.stdout) ||
		!strings.Contains(r.stdout, "exist only at the source") {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A malformed rule in the stack's outputs is a clear error, not "every key".
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", fakeCloudFormation(t, "BackToOrigin",
		map[string]string{"BucketName": dstBucket, "SourceEndpoint": w.gcs.URL, "ExcludeSuffixes": `.tmp`},
		map[string]string{"gcsBucketName": srcBucket}))
	r = cli(t, "verify")
	if r.code == exitDone || !strings.Contains(r.stderr, "output ExcludeSuffixes") {
		t.Fatalf("malformed rule: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

func TestBackfillRefreshQueuesOnlyThisSystemsStaleCopies(t *testing.T) {
	w := newWorld(t)
	w.mixed()
	etags := map[string]string{}
	for _, k := range []string{"c/size", "d/gen"} {
		head, err := w.s3c.HeadObject(w.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		etags[k] = aws.ToString(head.ETag)
	}
	r := cli(t, append([]string{"backfill", "--refresh", "--json"}, w.localFlags()...)...)
	if r.code != exitDone {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "not replaced: f/foreign") {
		t.Fatalf("the foreign object is not reported:\n%s", r.stderr)
	}
	got := w.received()
	if len(got) != 3 || len(got["b/missing"]) != 1 || len(got["c/size"]) != 1 || len(got["d/gen"]) != 1 {
		t.Fatalf("queued %v, want b/missing, c/size, d/gen", got)
	}
	for k, etag := range etags {
		msg, _ := queuemsg.Parse(aws.ToString(got[k][0].Body))
		if msg.Refresh == nil || msg.Refresh.ETag != etag {
			t.Fatalf("%s: refresh %+v, want If-Match %s", k, msg.Refresh, etag)
		}
		if got[k][0].Attributes["MessageGroupId"] != queuemsg.KeyHash(k) {
			t.Fatalf("%s: group %v", k, got[k][0].Attributes)
		}
	}
	if msg, _ := queuemsg.Parse(aws.ToString(got["b/missing"][0].Body)); msg.Refresh != nil {
		t.Fatalf("the missing key's message asks for a refresh")
	}
}

func TestRedriveShowsWhatItMovesAndExitsOneForWhatStays(t *testing.T) {
	w := newWorld(t)
	dlq, err := w.sqs.CreateQueue(w.ctx, "dlq.fifo", true)
	if err != nil {
		t.Fatal(err)
	}
	c := w.sqs.Client()
	for i, body := range []string{
		`{"reason":"no part finished","messageId":"m1","body":"{\"v\":1,\"key\":\"big.bin\"}"}`,
		`{"reason":"invalid JSON","messageId":"m2","body":"{oops"}`,
	} {
		if _, err := c.SendMessage(w.ctx, &sqs.SendMessageInput{QueueUrl: &dlq, MessageBody: aws.String(body),
			MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	r := cli(t, "redrive", "--queue-url", w.queueURL, "--dlq-url", dlq)
	if r.code != exitDifferences || !strings.Contains(r.stdout, "moved      big.bin (dead-lettered for: no part finished)") || !strings.Contains(r.stdout, "moved 1, kept 1") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := w.received(); len(got["big.bin"]) != 1 {
		t.Fatalf("transfer queue: %v", got)
	}
}
