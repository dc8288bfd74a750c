package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/browsercontext"
	"github.com/browserbase/session-operator/internal/metrics"
	"github.com/browserbase/session-operator/internal/sessionfeed"
)

func parse(t *testing.T, args ...string) (*options, error) {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return parseFlags(fs, args)
}

// The command line the e2e suite and hack/dev start the manager with (internal/localenv), plus
// the settings a namespaced install and the chart pass.
func TestParseFlags(t *testing.T) {
	t.Setenv("BROWSERBASE_BASE_URL", "")
	o, err := parse(t,
		"--leader-elect", "--leader-election-namespace=browserbase-system",
		"--metrics-bind-address=:8080", "--metrics-secure=false", "--health-probe-bind-address=0",
		"--session-poll-interval=2s", "--credentials-recheck-interval=2s", "--zap-devel",
		"--leader-election-lease-duration=6s", "--leader-election-renew-deadline=5s", "--leader-election-retry-period=1s",
		"--browserbase-url=http://127.0.0.1:8000", "--creates-per-minute=25", "--max-concurrent-browserbase-calls=2",
		"--watch-namespaces= team-a, ,team-b ", "--cluster-id=prod-eu",
	)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}

	want := options{
		manager: managerOptions{
			metricsAddr: ":8080", secureMetrics: false, enableHTTP2: false, probeAddr: "0", pprofAddr: "0",
			leaderElect: true, leaderElectionID: "session-operator.browserbase.io", leaderElectionNamespace: "browserbase-system",
			leaseDuration: 6 * time.Second, renewDeadline: 5 * time.Second, retryPeriod: time.Second,
			kubeAPIQPS: 200, kubeAPIBurst: 400, maxConcurrentReconciles: 8,
		},
		browserbase: browserbaseOptions{
			url: "http://127.0.0.1:8000", callTimeout: 30 * time.Second, maxConcurrentCalls: 2,
			createsPerMinute: 25, createGracePeriod: 30 * time.Second,
			sessionPollInterval: 2 * time.Second, sessionListInterval: sessionfeed.DefaultInterval, contextPollInterval: browsercontext.DefaultPollInterval,
			sweepInterval: time.Hour, credentialsRecheck: 2 * time.Second,
		},
		scope: scopeOptions{clusterID: "prod-eu", watchNamespaces: " team-a, ,team-b "},
	}
	if !reflect.DeepEqual(o.manager, want.manager) {
		t.Errorf("manager options:\n got %+v\nwant %+v", o.manager, want.manager)
	}
	if !reflect.DeepEqual(o.browserbase, want.browserbase) {
		t.Errorf("browserbase options:\n got %+v\nwant %+v", o.browserbase, want.browserbase)
	}
	if o.scope != want.scope {
		t.Errorf("scope options: got %+v, want %+v", o.scope, want.scope)
	}
	if got := o.scope.namespaces(); !reflect.DeepEqual(got, []string{"team-a", "team-b"}) {
		t.Errorf("namespaces() = %q, want [team-a team-b]", got)
	}
	if !o.log.Development {
		t.Error("--zap-devel was not bound to the log options")
	}
}

func TestParseFlagsDefaults(t *testing.T) {
	t.Setenv("BROWSERBASE_BASE_URL", "")
	o, err := parse(t)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if o.manager.metricsAddr != "0" || !o.manager.secureMetrics || o.manager.probeAddr != ":8081" || o.manager.leaderElect {
		t.Errorf("manager endpoints: got %+v", o.manager)
	}
	if o.browserbase.url != browserbase.DefaultBaseURL || o.browserbase.maxConcurrentCalls != 4 || o.browserbase.createsPerMinute != 0 {
		t.Errorf("browserbase options: got %+v", o.browserbase)
	}
	if o.scope.clusterID != "" || o.scope.namespaces() != nil {
		t.Errorf("scope: got %+v, namespaces %q; want the kube-system UID and all namespaces", o.scope, o.scope.namespaces())
	}

	// BROWSERBASE_BASE_URL is the default of --browserbase-url, which still overrides it.
	t.Setenv("BROWSERBASE_BASE_URL", "http://emulator:8000")
	if o, _ := parse(t); o.browserbase.url != "http://emulator:8000" {
		t.Errorf("with BROWSERBASE_BASE_URL set, url = %q", o.browserbase.url)
	}
	if o, _ := parse(t, "--browserbase-url=http://other"); o.browserbase.url != "http://other" {
		t.Errorf("with --browserbase-url, url = %q", o.browserbase.url)
	}
}

func TestParseFlagsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // in the error
	}{
		{"grace period shorter than a call", []string{"--browserbase-timeout=1m", "--create-grace-period=30s"},
			[]string{"--create-grace-period (30s)", "--browserbase-timeout (1m0s)"}},
		{"grace period shorter than the default call", []string{"--create-grace-period=5s"},
			[]string{"--create-grace-period (5s)", "--browserbase-timeout (30s)"}},
		{"unknown flag", []string{"--max-concurrent-calls=2"}, []string{"max-concurrent-calls"}},
		{"malformed duration", []string{"--sweep-interval=hourly"}, []string{"sweep-interval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	// The fault suite's grace period, equal to its timeout, is allowed.
	if _, err := parse(t, "--browserbase-timeout=5s", "--create-grace-period=5s"); err != nil {
		t.Errorf("a grace period equal to the timeout: %v", err)
	}
}

// --max-concurrent-browserbase-calls bounds session and context calls together, and context
// calls are counted in the API metrics like session calls.
func TestBrowserbaseClientsShareTheLimit(t *testing.T) {
	release := make(chan struct{})
	var sessionStarted = make(chan struct{})
	var contextRequests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/sessions/"):
			close(sessionStarted)
			<-release
			_, _ = io.WriteString(w, `{"id":"s","status":"RUNNING"}`)
		case strings.HasPrefix(r.URL.Path, "/v1/contexts/"):
			contextRequests.Add(1)
			_, _ = io.WriteString(w, `{"id":"c","projectId":"p"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer server.Close()

	bb, err := newBrowserbaseClients(&browserbaseOptions{url: server.URL, callTimeout: 10 * time.Second, maxConcurrentCalls: 1})
	if err != nil {
		t.Fatal(err)
	}
	sessionDone := make(chan error)
	go func() { _, err := bb.sessions.GetSession(context.Background(), "k", "s"); sessionDone <- err }()
	<-sessionStarted

	// The only slot is the session call's: the context call waits for it, and gives up with its
	// context without reaching Browserbase.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := bb.contexts.GetContext(ctx, "k", "c"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a context call while the session call holds the slot: %v, want it to wait", err)
	}
	if n := contextRequests.Load(); n != 0 {
		t.Errorf("%d context requests reached Browserbase while the slot was taken", n)
	}

	close(release)
	if err := <-sessionDone; err != nil {
		t.Fatalf("session call: %v", err)
	}
	before := testutil.ToFloat64(metrics.APIRequests.WithLabelValues("context_get", "200"))
	if _, err := bb.contexts.GetContext(context.Background(), "k", "c"); err != nil {
		t.Fatalf("context call with the slot free: %v", err)
	}
	if got := testutil.ToFloat64(metrics.APIRequests.WithLabelValues("context_get", "200")) - before; got != 1 {
		t.Errorf("browserbase_api_requests_total{endpoint=context_get,code=200} grew by %v, want 1", got)
	}
}
