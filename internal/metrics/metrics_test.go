package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// stubClient answers every call with err.
type stubClient struct{ err error }

func (s stubClient) CreateSession(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
	return &browserbase.Session{}, s.err
}
func (s stubClient) GetSession(context.Context, browserbase.Sensitive, string) (*browserbase.Session, error) {
	return &browserbase.Session{}, s.err
}
func (s stubClient) ListSessions(context.Context, browserbase.Sensitive, browserbase.ListOptions) ([]browserbase.Session, error) {
	return nil, s.err
}
func (s stubClient) ReleaseSession(context.Context, browserbase.Sensitive, string) (*browserbase.Session, error) {
	return &browserbase.Session{}, s.err
}

func TestInstrumentClient(t *testing.T) {
	ctx := context.Background()
	before := map[string]float64{
		"create/201":  testutil.ToFloat64(APIRequests.WithLabelValues("create", "201")),
		"create/429":  testutil.ToFloat64(APIRequests.WithLabelValues("create", "429")),
		"get/error":   testutil.ToFloat64(APIRequests.WithLabelValues("get", "error")),
		"release/200": testutil.ToFloat64(APIRequests.WithLabelValues("release", "200")),
		"list/200":    testutil.ToFloat64(APIRequests.WithLabelValues("list", "200")),
		"created":     testutil.ToFloat64(SessionsCreated),
	}
	ok := InstrumentClient(stubClient{})
	limited := InstrumentClient(stubClient{err: &browserbase.APIError{StatusCode: 429}})
	unreachable := InstrumentClient(stubClient{err: &browserbase.CallError{Err: errors.New("refused")}})

	_, _ = ok.CreateSession(ctx, "k", browserbase.CreateSessionRequest{})
	_, _ = limited.CreateSession(ctx, "k", browserbase.CreateSessionRequest{})
	_, _ = unreachable.GetSession(ctx, "k", "id")
	_, _ = ok.ReleaseSession(ctx, "k", "id")
	_, _ = limited.ReleaseSession(ctx, "k", "id")
	_, _ = ok.ListSessions(ctx, "k", browserbase.ListOptions{})

	for name, want := range map[string]float64{
		"create/201": 1, "create/429": 1, "get/error": 1, "release/200": 1, "list/200": 1, "created": 1,
	} {
		var got float64
		switch name {
		case "created":
			got = testutil.ToFloat64(SessionsCreated)
		default:
			endpoint, code, _ := strings.Cut(name, "/")
			got = testutil.ToFloat64(APIRequests.WithLabelValues(endpoint, code))
		}
		if got-before[name] != want {
			t.Errorf("%s went up by %v, want %v", name, got-before[name], want)
		}
	}
	if n := testutil.CollectAndCount(APIRequestDuration); n < 4 {
		t.Errorf("latency histograms for %d endpoints, want create, get, list and release", n)
	}
}

func TestSessionCollector(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = v1alpha1.AddToScheme(scheme)
	session := func(name, status string, ready metav1.ConditionStatus) *v1alpha1.BrowserSession {
		bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
		bs.Status.SessionStatus = status
		if ready != "" {
			bs.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: ready, Reason: "R"}}
		}
		return bs
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		session("a", "RUNNING", metav1.ConditionTrue),
		session("b", "RUNNING", metav1.ConditionTrue),
		session("c", "TIMED_OUT", metav1.ConditionFalse),
		session("d", "", ""),
	).Build()
	want := `
# HELP browserbase_browsersessions BrowserSessions by Browserbase session status ("" before one exists) and Ready condition.
# TYPE browserbase_browsersessions gauge
browserbase_browsersessions{ready="False",status="TIMED_OUT"} 1
browserbase_browsersessions{ready="True",status="RUNNING"} 2
browserbase_browsersessions{ready="Unknown",status=""} 1
`
	if err := testutil.CollectAndCompare(NewSessionCollector(reader), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// stubProjects answers every project call with err.
type stubProjects struct{ err error }

func (s stubProjects) GetProject(context.Context, browserbase.Sensitive, string) (*browserbase.Project, error) {
	return &browserbase.Project{}, s.err
}
func (s stubProjects) ListProjects(context.Context, browserbase.Sensitive) ([]browserbase.Project, error) {
	return nil, s.err
}

func TestInstrumentProjectClient(t *testing.T) {
	ctx := context.Background()
	counters := []string{"project_get/200", "project_get/404", "project_list/200", "project_list/401", "project_list/error"}
	count := func(name string) float64 {
		endpoint, code, _ := strings.Cut(name, "/")
		return testutil.ToFloat64(APIRequests.WithLabelValues(endpoint, code))
	}
	before := map[string]float64{}
	for _, name := range counters {
		before[name] = count(name)
	}
	latencies := map[string]uint64{"project_get": latencySamples(t, "project_get"), "project_list": latencySamples(t, "project_list")}

	ok := InstrumentProjectClient(stubProjects{})
	_, _ = ok.GetProject(ctx, "k", "p")
	_, _ = ok.ListProjects(ctx, "k")
	_, _ = ok.ListProjects(ctx, "k")
	_, _ = InstrumentProjectClient(stubProjects{err: &browserbase.APIError{StatusCode: 404}}).GetProject(ctx, "k", "p")
	_, _ = InstrumentProjectClient(stubProjects{err: &browserbase.APIError{StatusCode: 401}}).ListProjects(ctx, "k")
	_, _ = InstrumentProjectClient(stubProjects{err: &browserbase.CallError{Err: errors.New("refused")}}).ListProjects(ctx, "k")

	want := map[string]float64{"project_get/200": 1, "project_get/404": 1, "project_list/200": 2, "project_list/401": 1, "project_list/error": 1}
	for _, name := range counters {
		if got := count(name) - before[name]; got != want[name] {
			t.Errorf("%s went up by %v, want %v", name, got, want[name])
		}
	}
	for endpoint, want := range map[string]uint64{"project_get": 2, "project_list": 4} {
		if got := latencySamples(t, endpoint) - latencies[endpoint]; got != want {
			t.Errorf("%s latency samples went up by %d, want %d", endpoint, got, want)
		}
	}
}

// latencySamples returns how many calls to endpoint the latency histogram has seen.
func latencySamples(t *testing.T, endpoint string) uint64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatalf("Gather() error: %v", err)
	}
	for _, mf := range families {
		if mf.GetName() != "browserbase_api_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == endpoint {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}
