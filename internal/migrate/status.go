package migrate

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/backtoorigin/backtoorigin/internal/contract"
)

// MetricsAPI is the part of the CloudWatch client status uses.
type MetricsAPI interface {
	GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

var _ MetricsAPI = (*cloudwatch.Client)(nil)

// QueueAttributesAPI reads queue attributes.
type QueueAttributesAPI interface {
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// StatusOptions configure ReadStatus.
type StatusOptions struct {
	Metrics  MetricsAPI // in the main stack's region, where the transfer function's metrics are
	Queue    QueueAttributesAPI
	QueueURL string
	DLQURL   string
	Now      time.Time // default time.Now()
	// EdgeMetrics, by region, read the edge handler's OriginFetches: it
	// runs, and logs, wherever CloudFront fetched from an origin, so every
	// region where that can be is asked.
	EdgeMetrics map[string]MetricsAPI
}

// EdgeRegions are where the origin-response function can run and record
// its metric: the regions of CloudFront's regional edge caches (which
// include every Origin Shield region).
var EdgeRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
	"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
	"ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
	"me-central-1", "af-south-1",
}

// Status is how the migration is going.
type Status struct {
	CopiedLastHour Tally `json:"copiedLastHour"`
	CopiedLastDay  Tally `json:"copiedLastDay"`
	// OutcomesLastDay counts the transfer function's other outcomes over
	// the last day, by metric: Skipped, Failed, SourceForbidden,
	// NoProgress, Excluded.
	OutcomesLastDay map[string]int64 `json:"outcomesLastDay"`
	Queue           QueueDepth       `json:"queue"`
	// OldestMessageSeconds is SQS's ApproximateAgeOfOldestMessage (the
	// latest 5-minute maximum), when CloudWatch has one.
	OldestMessageSeconds *float64   `json:"oldestMessageSeconds,omitempty"`
	DeadLetter           QueueDepth `json:"deadLetterQueue"`
	// DrainSeconds estimates when the transfer queue is empty at the last
	// hour's copy rate (nil without copies in the last hour).
	DrainSeconds *float64 `json:"drainSeconds,omitempty"`
	// Fetches counts the last day's origin fetches that served a viewer,
	// by origin ("S3", "GCS"), over EdgeRegions; FetchRegions are where
	// any were recorded.
	Fetches      map[string]int64 `json:"originFetchesLastDay"`
	FetchRegions []string         `json:"originFetchRegions"`
	// FetchErrors are regions that could not be read (a region not
	// enabled for the account, say): said, and the rest still counted.
	FetchErrors []string `json:"originFetchErrors,omitempty"`
}

// S3Share is the share of the last day's origin fetches served from S3
// (nil without any).
func (s Status) S3Share() *float64 {
	total := s.Fetches["S3"] + s.Fetches["GCS"]
	if total == 0 {
		return nil
	}
	share := float64(s.Fetches["S3"]) / float64(total)
	return &share
}

// QueueDepth is a queue's messages by state.
type QueueDepth struct {
	Waiting  int `json:"waiting"`
	InFlight int `json:"inFlight"`
	Delayed  int `json:"delayed"`
}

// Total is every message in the queue.
func (q QueueDepth) Total() int { return q.Waiting + q.InFlight + q.Delayed }

// outcomeMetrics are the transfer function's metrics other than copies
// (its object line, internal/transferlambda/metrics.go).
var outcomeMetrics = []string{"Skipped", "Failed", "SourceForbidden", "NoProgress", "Excluded"}

// ReadStatus reads the queues' depths and the transfer function's metrics.
func ReadStatus(ctx context.Context, opts StatusOptions) (Status, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	st := Status{OutcomesLastDay: map[string]int64{}, Fetches: map[string]int64{}}
	var err error
	if st.Queue, err = queueDepth(ctx, opts.Queue, opts.QueueURL); err != nil {
		return st, err
	}
	if st.DeadLetter, err = queueDepth(ctx, opts.Queue, opts.DLQURL); err != nil {
		return st, err
	}

	stat := func(id, namespace, name string, period time.Duration, statistic string, dims ...cwtypes.Dimension) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(namespace), MetricName: aws.String(name), Dimensions: dims},
			Period: aws.Int32(int32(period / time.Second)), Stat: aws.String(statistic),
		}}
	}
	hour, err := metricValues(ctx, opts.Metrics, now.Add(-time.Hour), now, []cwtypes.MetricDataQuery{
		stat("objects", contract.MetricsNamespace, "ObjectsCopied", time.Hour, "Sum"),
		stat("bytes", contract.MetricsNamespace, "BytesCopied", time.Hour, "Sum"),
		stat("age", "AWS/SQS", "ApproximateAgeOfOldestMessage", 5*time.Minute, "Maximum",
			cwtypes.Dimension{Name: aws.String("QueueName"), Value: aws.String(path.Base(opts.QueueURL))}),
	})
	if err != nil {
		return st, err
	}
	day := []cwtypes.MetricDataQuery{
		stat("objects", contract.MetricsNamespace, "ObjectsCopied", 24*time.Hour, "Sum"),
		stat("bytes", contract.MetricsNamespace, "BytesCopied", 24*time.Hour, "Sum"),
	}
	for i, name := range outcomeMetrics {
		day = append(day, stat("outcome"+strconv.Itoa(i), contract.MetricsNamespace, name, 24*time.Hour, "Sum"))
	}
	dayValues, err := metricValues(ctx, opts.Metrics, now.Add(-24*time.Hour), now, day)
	if err != nil {
		return st, err
	}
	st.CopiedLastHour = Tally{Objects: int64(hour["objects"]), Bytes: int64(hour["bytes"])}
	st.CopiedLastDay = Tally{Objects: int64(dayValues["objects"]), Bytes: int64(dayValues["bytes"])}
	for i, name := range outcomeMetrics {
		st.OutcomesLastDay[name] = int64(dayValues["outcome"+strconv.Itoa(i)])
	}
	if age, ok := hour["age"]; ok {
		st.OldestMessageSeconds = &age
	}
	readFetches(ctx, opts.EdgeMetrics, now, &st)
	if st.CopiedLastHour.Objects > 0 {
		drain := float64(st.Queue.Total()) / (float64(st.CopiedLastHour.Objects) / 3600)
		st.DrainSeconds = &drain
	}
	return st, nil
}

// readFetches sums the edge's OriginFetches by origin over every region, asked at once.
func readFetches(ctx context.Context, regions map[string]MetricsAPI, now time.Time, st *Status) {
	type result struct {
		region string
		values map[string]float64
		err    error
	}
	results := make(chan result, len(regions))
	for region, m := range regions {
		go func() {
			var qs []cwtypes.MetricDataQuery
			for _, origin := range []string{"S3", "GCS"} {
				qs = append(qs, cwtypes.MetricDataQuery{Id: aws.String(strings.ToLower(origin)), MetricStat: &cwtypes.MetricStat{
					Metric: &cwtypes.Metric{Namespace: aws.String(contract.MetricsNamespace), MetricName: aws.String("OriginFetches"),
						Dimensions: []cwtypes.Dimension{{Name: aws.String("Origin"), Value: aws.String(origin)}}},
					Period: aws.Int32(86400), Stat: aws.String("Sum"),
				}})
			}
			v, err := metricValues(ctx, m, now.Add(-24*time.Hour), now, qs)
			results <- result{region, v, err}
		}()
	}
	for range regions {
		r := <-results
		if r.err != nil {
			st.FetchErrors = append(st.FetchErrors, r.region+": "+r.err.Error())
			continue
		}
		if r.values["s3"]+r.values["gcs"] > 0 {
			st.FetchRegions = append(st.FetchRegions, r.region)
		}
		st.Fetches["S3"] += int64(r.values["s3"])
		st.Fetches["GCS"] += int64(r.values["gcs"])
	}
	slices.Sort(st.FetchRegions)
	slices.Sort(st.FetchErrors)
}

// metricValues returns, per query id, the newest value in the window (a
// query without data is absent).
func metricValues(ctx context.Context, m MetricsAPI, start, end time.Time, queries []cwtypes.MetricDataQuery) (map[string]float64, error) {
	values := map[string]float64{}
	in := &cloudwatch.GetMetricDataInput{StartTime: &start, EndTime: &end, MetricDataQueries: queries, ScanBy: cwtypes.ScanByTimestampDescending}
	for {
		out, err := m.GetMetricData(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("read CloudWatch metrics: %w", err)
		}
		for _, r := range out.MetricDataResults {
			id := aws.ToString(r.Id)
			if _, seen := values[id]; !seen && len(r.Values) > 0 {
				values[id] = r.Values[0]
			}
		}
		if out.NextToken == nil {
			return values, nil
		}
		in.NextToken = out.NextToken
	}
}

func queueDepth(ctx context.Context, q QueueAttributesAPI, url string) (QueueDepth, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return QueueDepth{}, fmt.Errorf("read the depth of %s: %w", url, err)
	}
	n := func(name sqstypes.QueueAttributeName) int {
		v, _ := strconv.Atoi(out.Attributes[string(name)])
		return v
	}
	return QueueDepth{
		Waiting:  n(sqstypes.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed),
	}, nil
}
