package migrate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/backtoorigin/backtoorigin/internal/standin"
	"github.com/backtoorigin/backtoorigin/internal/transferlambda"
)

// fakeMetrics answers GetMetricData from a table of (namespace, metric,
// period) -> value; there is no local CloudWatch to run.
type fakeMetrics struct {
	t      *testing.T
	values map[string]float64
	calls  int
}

var _ MetricsAPI = (*fakeMetrics)(nil)

func (f *fakeMetrics) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.calls++
	window := in.EndTime.Sub(*in.StartTime)
	out := &cloudwatch.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries {
		m := q.MetricStat
		name := aws.ToString(m.Metric.Namespace) + "/" + aws.ToString(m.Metric.MetricName)
		if name == "AWS/SQS/ApproximateAgeOfOldestMessage" && (len(m.Metric.Dimensions) != 1 || aws.ToString(m.Metric.Dimensions[0].Value) != "transfer.fifo") {
			f.t.Errorf("oldest-message age asked for dimensions %+v, want QueueName=transfer.fifo", m.Metric.Dimensions)
		}
		key := fmt.Sprintf("%s@%s/%ds", name, window, aws.ToInt32(m.Period))
		if name == transferlambda.MetricsNamespace+"/OriginFetches" {
			key += "/" + aws.ToString(m.Metric.Dimensions[0].Value)
		}
		r := cwtypes.MetricDataResult{Id: q.Id}
		if v, ok := f.values[key]; ok {
			r.Values = []float64{v}
		}
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	return out, nil
}

func TestStatusReadsTheQueuesAndTheTransferMetrics(t *testing.T) {
	ctx := context.Background()
	srv := standin.NewSQS(t)
	c := srv.Client()
	queue, err := srv.CreateQueue(ctx, "transfer.fifo", true)
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := srv.CreateQueue(ctx, "dlq.fifo", true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &queue, MessageBody: aws.String("{}"),
			MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &dlq, MessageBody: aws.String("{}"),
		MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	ns := transferlambda.MetricsNamespace
	m := &fakeMetrics{t: t, values: map[string]float64{
		ns + "/ObjectsCopied@1h0m0s/3600s":                  1800,
		ns + "/BytesCopied@1h0m0s/3600s":                    9e9,
		"AWS/SQS/ApproximateAgeOfOldestMessage@1h0m0s/300s": 42,
		ns + "/ObjectsCopied@24h0m0s/86400s":                20000,
		ns + "/BytesCopied@24h0m0s/86400s":                  1e11,
		ns + "/Failed@24h0m0s/86400s":                       7,
		ns + "/SourceForbidden@24h0m0s/86400s":              2,
	}}
	edge := func(s3, gcs float64) *fakeMetrics {
		f := &fakeMetrics{t: t, values: map[string]float64{}}
		if s3 > 0 {
			f.values[ns+"/OriginFetches@24h0m0s/86400s/S3"] = s3
		}
		if gcs > 0 {
			f.values[ns+"/OriginFetches@24h0m0s/86400s/GCS"] = gcs
		}
		return f
	}
	regions := map[string]MetricsAPI{"us-east-1": edge(600, 40), "eu-west-1": edge(300, 60), "ap-south-1": edge(0, 0)}
	st, err := ReadStatus(ctx, StatusOptions{Metrics: m, Queue: c, QueueURL: queue, DLQURL: dlq, Now: time.Now(), EdgeMetrics: regions})
	if err != nil {
		t.Fatal(err)
	}
	if st.CopiedLastHour != (Tally{1800, 9e9}) || st.CopiedLastDay != (Tally{20000, 1e11}) {
		t.Fatalf("copied %+v / %+v", st.CopiedLastHour, st.CopiedLastDay)
	}
	if st.OutcomesLastDay["Failed"] != 7 || st.OutcomesLastDay["SourceForbidden"] != 2 || st.OutcomesLastDay["Skipped"] != 0 {
		t.Fatalf("outcomes %v", st.OutcomesLastDay)
	}
	if st.Queue.Total() != 3 || st.DeadLetter.Total() != 1 {
		t.Fatalf("depths %+v / %+v", st.Queue, st.DeadLetter)
	}
	if st.OldestMessageSeconds == nil || *st.OldestMessageSeconds != 42 {
		t.Fatalf("oldest message %v", st.OldestMessageSeconds)
	}
	// The edge's metric, found in the regions where it was recorded.
	if st.Fetches["S3"] != 900 || st.Fetches["GCS"] != 100 || fmt.Sprint(st.FetchRegions) != "[eu-west-1 us-east-1]" {
		t.Fatalf("fetches %v in %v", st.Fetches, st.FetchRegions)
	}
	if share := st.S3Share(); share == nil || *share != 0.9 {
		t.Fatalf("S3 share %v", share)
	}
	// 3 messages at 1800 copies an hour (0.5/s): 6 s.
	if st.DrainSeconds == nil || *st.DrainSeconds != 6 {
		t.Fatalf("drain %v", st.DrainSeconds)
	}
	// Without copies in the last hour there is no estimate.
	delete(m.values, ns+"/ObjectsCopied@1h0m0s/3600s")
	if st, err = ReadStatus(ctx, StatusOptions{Metrics: m, Queue: c, QueueURL: queue, DLQURL: dlq}); err != nil || st.DrainSeconds != nil {
		t.Fatalf("drain without copies: %v %v", st.DrainSeconds, err)
	}
}
