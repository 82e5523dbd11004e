package stacks

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/backtoorigin/backtoorigin/internal/contract"
)

// DashboardProps configure the migration dashboard.
type DashboardProps struct {
	Transfer *Transfer
	// EdgeRegions are where the origin-response function records its
	// OriginFetches metric: with Origin Shield, reportedly the Origin
	// Shield regions (Lambda@Edge runs, and logs, where CloudFront fetches
	// from an origin). Each is graphed from its own region.
	EdgeRegions []string
}

// Dashboard is one CloudWatch dashboard of the migration: copies, bytes,
// copy seconds, outcomes, both queues, and origin fetches S3 versus GCS.
type Dashboard struct {
	constructs.Construct
	Dashboard awscloudwatch.Dashboard
}

// metricsNamespace: the transfer function's and the edge handler's metrics.
const metricsNamespace = contract.MetricsNamespace

func NewDashboard(scope constructs.Construct, id string, props *DashboardProps) *Dashboard {
	this := constructs.NewConstruct(scope, &id)
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	metric := func(name, statistic, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(metricsNamespace), MetricName: jsii.String(name),
			Statistic: jsii.String(statistic), Period: fiveMinutes, Label: jsii.String(label),
		})
	}
	graph := func(title string, left, right []awscloudwatch.IMetric) awscloudwatch.IWidget {
		p := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(12), Height: jsii.Number(6)}
		if len(right) > 0 {
			p.Right = &right
		}
		return awscloudwatch.NewGraphWidget(p)
	}
	q, dlq := props.Transfer.Queue, props.Transfer.DeadLetterQueue
	opts := &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")}

	var fetches []awscloudwatch.IMetric
	regions := slices.Clone(props.EdgeRegions)
	slices.Sort(regions)
	for _, region := range slices.Compact(regions) {
		for _, origin := range []string{"S3", "GCS"} {
			fetches = append(fetches, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String(metricsNamespace), MetricName: jsii.String("OriginFetches"),
				DimensionsMap: &map[string]*string{"Origin": jsii.String(origin)},
				Statistic:     jsii.String("Sum"), Period: fiveMinutes, Region: jsii.String(region),
				Label: jsii.String(origin + " (" + region + ")"),
			}))
		}
	}
	widgets := [][]awscloudwatch.IWidget{
		{
			graph("Objects copied", []awscloudwatch.IMetric{metric("ObjectsCopied", "Sum", "objects")}, []awscloudwatch.IMetric{metric("BytesCopied", "Sum", "bytes")}),
			graph("Copy seconds", []awscloudwatch.IMetric{metric("CopySeconds", "p50", "p50"), metric("CopySeconds", "p99", "p99"), metric("CopySeconds", "Maximum", "max")}, nil),
		},
		{
			graph("Outcomes other than copied", []awscloudwatch.IMetric{
				metric("Skipped", "Sum", "skipped (already in S3)"), metric("Failed", "Sum", "failed"),
				metric("SourceForbidden", "Sum", "source forbidden (403)"), metric("NoProgress", "Sum", "no progress (to the DLQ)"),
				metric("Excluded", "Sum", "excluded by the key rules"),
			}, nil),
			graph("Transfer queue", []awscloudwatch.IMetric{
				q.MetricApproximateNumberOfMessagesVisible(opts), q.MetricApproximateNumberOfMessagesNotVisible(opts),
			}, []awscloudwatch.IMetric{q.MetricApproximateAgeOfOldestMessage(opts)}),
		},
		{
			graph("Dead-letter queue", []awscloudwatch.IMetric{dlq.MetricApproximateNumberOfMessagesVisible(opts)}, nil),
			graph("Origin fetches that served a viewer: S3 versus GCS", fetches, nil),
		},
	}
	rows := make([]*[]awscloudwatch.IWidget, len(widgets))
	for i := range widgets {
		rows[i] = &widgets[i]
	}
	d := awscloudwatch.NewDashboard(this, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{Widgets: &rows})
	return &Dashboard{Construct: this, Dashboard: d}
}
