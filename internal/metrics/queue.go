package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The create queue's metrics, labelled by project: the queue's key ("BrowserbaseProject/ns/name",
// "ClusterBrowserbaseProject/name", or "key:<hash>" for resources without a project). The queue
// deletes a project's series when it drops the queue, so the label set stays bounded.
var (
	// QueueLength is how many creates wait in a project's queue.
	QueueLength = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "browserbase_queue_length",
		Help: "Creates waiting in a project's create queue.",
	}, []string{"project"})

	// QueueWait is how long an admitted create waited, from its first ask to its admission.
	QueueWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "browserbase_queue_wait_seconds",
		Help:    "Time from a create's first ask to its admission by the project's create queue.",
		Buckets: []float64{0.1, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600},
	}, []string{"project"})

	// QueueAdmitted counts creates admitted, by kind: first (a resource's first session) or
	// renewal (a successor under spec.renewal).
	QueueAdmitted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "browserbase_queue_admitted_total",
		Help: "Creates admitted by a project's create queue, by kind (first, renewal).",
	}, []string{"project", "kind"})

	// APIThrottled counts 429s to creates, by the limit Browserbase named: rate or concurrency.
	APIThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "browserbase_api_throttled_total",
		Help: "Creates Browserbase answered 429 to, by limit (rate, concurrency).",
	}, []string{"project", "limit"})

	// ProjectCreatesPerMinute is the creation limit the queue keeps to (0: none known).
	ProjectCreatesPerMinute = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "browserbase_project_creates_per_minute_limit",
		Help: "Creates a minute the project's queue admits at most: its budget or the limit learned from a 429; 0 when none is known.",
	}, []string{"project"})

	// ProjectSessionsLive is the project's live sessions as the queue counts them.
	ProjectSessionsLive = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "browserbase_project_sessions_live",
		Help: "Live (PENDING or RUNNING) sessions of the project: the last list, plus creates admitted since.",
	}, []string{"project"})

	// ProjectConcurrencyLimit is the most live sessions the queue allows (0: no limit).
	ProjectConcurrencyLimit = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "browserbase_project_concurrency_limit",
		Help: "Most live sessions the project's queue allows at once; 0 for no limit.",
	}, []string{"project"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(QueueLength, QueueWait, QueueAdmitted, APIThrottled,
		ProjectCreatesPerMinute, ProjectSessionsLive, ProjectConcurrencyLimit)
}

// SetQueueState publishes a project queue's gauges: waiting creates, live sessions, and the
// limits in force (0 for none).
func SetQueueState(project string, waiting, live, createsPerMinute, concurrency int) {
	QueueLength.WithLabelValues(project).Set(float64(waiting))
	ProjectSessionsLive.WithLabelValues(project).Set(float64(live))
	ProjectCreatesPerMinute.WithLabelValues(project).Set(float64(createsPerMinute))
	ProjectConcurrencyLimit.WithLabelValues(project).Set(float64(concurrency))
}

// ObserveAdmission counts a create admitted after waiting for wait.
func ObserveAdmission(project string, renewal bool, wait time.Duration) {
	kind := "first"
	if renewal {
		kind = "renewal"
	}
	QueueAdmitted.WithLabelValues(project, kind).Inc()
	QueueWait.WithLabelValues(project).Observe(wait.Seconds())
}

// CountThrottled counts a 429 to a create, for the concurrency limit or the creation rate.
func CountThrottled(project string, concurrency bool) {
	limit := "rate"
	if concurrency {
		limit = "concurrency"
	}
	APIThrottled.WithLabelValues(project, limit).Inc()
}

// DeleteQueue drops every series of a project's queue, once the queue is gone.
func DeleteQueue(project string) {
	labels := prometheus.Labels{"project": project}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		QueueLength, QueueWait, QueueAdmitted, APIThrottled,
		ProjectCreatesPerMinute, ProjectSessionsLive, ProjectConcurrencyLimit,
	} {
		v.DeletePartialMatch(labels)
	}
}
