// Package metrics holds the operator's Prometheus metrics, registered with controller-runtime's
// registry so they are served with its own on the manager's metrics endpoint: Browserbase API
// calls by endpoint and status with their latency, what the reconciler did (creates, releases,
// adoptions after a lost create answer, rate-limit waits), and BrowserSessions by status.
package metrics

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

var (
	// APIRequests counts Browserbase API calls by endpoint and answer ("error" when none came).
	APIRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "browserbase_api_requests_total",
		Help: "Browserbase API calls, by endpoint (create, get, list, release; context_create, context_get, context_delete; project_get, project_list) and HTTP status code, or \"error\" when no answer came.",
	}, []string{"endpoint", "code"})

	// APIRequestDuration is the latency of Browserbase API calls.
	APIRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "browserbase_api_request_duration_seconds",
		Help:    "Latency of Browserbase API calls, by endpoint.",
		Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"endpoint"})

	// SessionsCreated counts sessions created.
	SessionsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "browserbase_sessions_created_total",
		Help: "Browserbase sessions created.",
	})

	// SessionsReleased counts sessions released, by reason: delete, renewed (a successor serves
	// instead), context-save, leftover (tagged with a resource but not its session), unusable
	// (connect details lost), unrecorded (another session was recorded meanwhile).
	SessionsReleased = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "browserbase_sessions_released_total",
		Help: "Browserbase sessions released, by reason.",
	}, []string{"reason"})

	// SessionsAdopted counts sessions found by their create-attempt tag after a create whose answer
	// was lost.
	SessionsAdopted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "browserbase_sessions_adopted_total",
		Help: "Browserbase sessions adopted after a create whose outcome was unknown.",
	})

	// SessionsRenewed counts sessions replaced under spec.renewal.
	SessionsRenewed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "browserbase_sessions_renewed_total",
		Help: "Browserbase sessions replaced by a successor under spec.renewal.",
	})

	// RateLimitWaits counts waits for a rate limit, by condition reason.
	RateLimitWaits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "browserbase_rate_limit_waits_total",
		Help: "Creates held back by a rate limit, by reason (RateLimited, ConcurrencyLimitReached).",
	}, []string{"reason"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(APIRequests, APIRequestDuration, SessionsCreated, SessionsReleased, SessionsAdopted, SessionsRenewed, RateLimitWaits)
}

// InstrumentClient wraps a Browserbase client so that every call is counted and timed.
func InstrumentClient(c browserbase.Client) browserbase.Client { return instrumented{c} }

type instrumented struct{ next browserbase.Client }

func observe(endpoint string, start time.Time, err error, ok int) {
	code := strconv.Itoa(ok)
	if err != nil {
		code = "error"
		if status := browserbase.StatusCode(err); status != 0 {
			code = strconv.Itoa(status)
		}
	}
	APIRequests.WithLabelValues(endpoint, code).Inc()
	APIRequestDuration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
}

func (i instrumented) CreateSession(ctx context.Context, key browserbase.Sensitive, req browserbase.CreateSessionRequest) (*browserbase.Session, error) {
	start := time.Now()
	s, err := i.next.CreateSession(ctx, key, req)
	observe("create", start, err, 201)
	if err == nil {
		SessionsCreated.Inc()
	}
	return s, err
}

func (i instrumented) GetSession(ctx context.Context, key browserbase.Sensitive, id string) (*browserbase.Session, error) {
	start := time.Now()
	s, err := i.next.GetSession(ctx, key, id)
	observe("get", start, err, 200)
	return s, err
}

func (i instrumented) ListSessions(ctx context.Context, key browserbase.Sensitive, opts browserbase.ListOptions) ([]browserbase.Session, error) {
	start := time.Now()
	s, err := i.next.ListSessions(ctx, key, opts)
	observe("list", start, err, 200)
	return s, err
}

func (i instrumented) ReleaseSession(ctx context.Context, key browserbase.Sensitive, id string) (*browserbase.Session, error) {
	start := time.Now()
	s, err := i.next.ReleaseSession(ctx, key, id)
	observe("release", start, err, 200)
	return s, err
}

// SessionCollector reports BrowserSessions by Browserbase status and by readiness, counted from
// the manager's cache when Prometheus scrapes, so nothing has to be kept in step on each reconcile.
type SessionCollector struct {
	reader   client.Reader
	sessions *prometheus.Desc
}

// NewSessionCollector counts the BrowserSessions the reader (the manager's cache) sees.
func NewSessionCollector(reader client.Reader) *SessionCollector {
	return &SessionCollector{
		reader: reader,
		sessions: prometheus.NewDesc("browserbase_browsersessions",
			"BrowserSessions by Browserbase session status (\"\" before one exists) and Ready condition.",
			[]string{"status", "ready"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *SessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.sessions }

// Collect implements prometheus.Collector.
func (c *SessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list := &v1alpha1.BrowserSessionList{}
	if err := c.reader.List(ctx, list); err != nil {
		ch <- prometheus.NewInvalidMetric(c.sessions, errors.New("listing BrowserSessions: "+err.Error()))
		return
	}
	type key struct{ status, ready string }
	counts := map[key]int{}
	for _, bs := range list.Items {
		ready := "Unknown"
		for _, cond := range bs.Status.Conditions {
			if cond.Type == v1alpha1.ConditionReady {
				ready = string(cond.Status)
			}
		}
		counts[key{bs.Status.SessionStatus, ready}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(n), k.status, k.ready)
	}
}

// InstrumentContextClient counts and times context calls in the metrics session calls go to
// (browserbase_api_requests_total, browserbase_api_request_duration_seconds), under endpoints of
// their own: context_create, context_get and context_delete.
func InstrumentContextClient(c browserbase.ContextClient) browserbase.ContextClient {
	return instrumentedContexts{c}
}

type instrumentedContexts struct{ next browserbase.ContextClient }

func (i instrumentedContexts) CreateContext(ctx context.Context, key browserbase.Sensitive, projectID string) (*browserbase.Context, error) {
	start := time.Now()
	c, err := i.next.CreateContext(ctx, key, projectID)
	observe("context_create", start, err, 201)
	return c, err
}

func (i instrumentedContexts) GetContext(ctx context.Context, key browserbase.Sensitive, id string) (*browserbase.Context, error) {
	start := time.Now()
	c, err := i.next.GetContext(ctx, key, id)
	observe("context_get", start, err, 200)
	return c, err
}

func (i instrumentedContexts) DeleteContext(ctx context.Context, key browserbase.Sensitive, id string) error {
	start := time.Now()
	err := i.next.DeleteContext(ctx, key, id)
	observe("context_delete", start, err, 204)
	return err
}

// InstrumentProjectClient counts and times project calls in the metrics session calls go to,
// under endpoints of their own: project_get and project_list.
func InstrumentProjectClient(c browserbase.ProjectClient) browserbase.ProjectClient {
	return instrumentedProjects{c}
}

type instrumentedProjects struct{ next browserbase.ProjectClient }

func (i instrumentedProjects) GetProject(ctx context.Context, key browserbase.Sensitive, id string) (*browserbase.Project, error) {
	start := time.Now()
	p, err := i.next.GetProject(ctx, key, id)
	observe("project_get", start, err, 200)
	return p, err
}

func (i instrumentedProjects) ListProjects(ctx context.Context, key browserbase.Sensitive) ([]browserbase.Project, error) {
	start := time.Now()
	p, err := i.next.ListProjects(ctx, key)
	observe("project_list", start, err, 200)
	return p, err
}
