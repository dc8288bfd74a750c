// Command manager runs the Browserbase session operator: it reconciles BrowserSession and
// BrowserContext resources into Browserbase cloud-browser sessions and contexts, and their Secrets.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"os"
	"runtime/debug"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // cloud-provider auth for --kubeconfig
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/browsercontext"
	"github.com/browserbase/session-operator/internal/controller/browsersession"
	"github.com/browserbase/session-operator/internal/metrics"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/scheme"
)

func main() {
	var (
		metricsAddr, probeAddr, browserbaseURL    string
		pprofAddr                                 string
		leaderElectionNamespace, leaderElectionID string
		enableLeaderElection, secureMetrics       bool
		enableHTTP2                               bool
		maxConcurrentReconciles, maxBrowserbase   int
		pollInterval, callTimeout                 time.Duration
		credentialsRecheck, createGrace           time.Duration
		leaseDuration, renewDeadline              time.Duration
		retryPeriod                               time.Duration
		createsPerMinute                          float64
		createBurst                               int
		kubeAPIQPS                                float64
		kubeAPIBurst                              int
		clusterID, watchNamespaces                string
		sweepInterval, contextPollInterval        time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to, "+
		"for example :8443 (HTTPS) or :8080 (HTTP). 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "The address Go's pprof profiles are served on, for example "+
		"127.0.0.1:6060. 0 disables them.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time.")
	flag.StringVar(&leaderElectionID, "leader-election-id", "session-operator.browserbase.io",
		"The name of the leader election lease: give each installation in a namespace its own.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "",
		"The namespace of the leader election lease; needed outside a cluster, where it cannot be inferred.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, to authenticated and authorized clients only.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Serve metrics over HTTP/2 too (off: HTTP/2 Rapid Reset, CVE-2023-44487).")
	flag.StringVar(&browserbaseURL, "browserbase-url", envOr("BROWSERBASE_BASE_URL", browserbase.DefaultBaseURL),
		"The Browserbase API base URL (environment: BROWSERBASE_BASE_URL).")
	flag.IntVar(&maxConcurrentReconciles, "max-concurrent-reconciles", 8,
		"How many BrowserSessions are reconciled in parallel (their Kubernetes reads and writes).")
	flag.IntVar(&maxBrowserbase, "max-concurrent-browserbase-calls", 4,
		"How many Browserbase API calls are made at once, for all BrowserSessions together (0: as many as reconciles).")
	flag.DurationVar(&pollInterval, "session-poll-interval", time.Minute,
		"How often a live session's status is read from Browserbase (sooner when it is about to expire).")
	flag.DurationVar(&callTimeout, "browserbase-timeout", 30*time.Second, "Timeout of each Browserbase API call.")
	flag.DurationVar(&credentialsRecheck, "credentials-recheck-interval", time.Minute,
		"How often a missing API-key or proxy-password Secret is looked for again.")
	flag.Float64Var(&createsPerMinute, "creates-per-minute", 0,
		"Most session creates per minute per API key: set it to your plan's creation limit to avoid even the first 429. "+
			"0: no client-side limit; Browserbase's 429s still hold every create with the key until their Retry-After.")
	flag.IntVar(&createBurst, "create-burst", 5, "Most creates per API key at once, within --creates-per-minute.")
	flag.DurationVar(&createGrace, "create-grace-period", 30*time.Second,
		"How long after a create whose answer was lost the session list is trusted to show the session it may have made, "+
			"counted from the end of that call. At least --browserbase-timeout: Browserbase may commit a create as late as that.")
	flag.DurationVar(&sweepInterval, "sweep-interval", time.Hour,
		"How often each BrowserSession's tagged sessions are listed, to release any that is not its recorded session "+
			"(a create Browserbase committed late, a second manager's). 0: only on create, adoption and delete.")
	flag.DurationVar(&contextPollInterval, "context-poll-interval", browsercontext.DefaultPollInterval,
		"How often each BrowserContext's context is read from Browserbase, to notice one deleted outside the operator.")
	flag.StringVar(&clusterID, "cluster-id", "", "This cluster's identity, tagged on every session so that only this "+
		"cluster's operator adopts or releases it (a restore into a standby cluster must not touch production's sessions). "+
		"Default: the UID of the kube-system namespace.")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces whose BrowserSessions this "+
		"operator reconciles (default: all). For deliberate splits between installs; Secrets are then read and cached in "+
		"these namespaces only.")
	flag.Float64Var(&kubeAPIQPS, "kube-api-qps", 200,
		"Most Kubernetes API requests per second, sustained (a session brought up costs about 5; one polled, none).")
	flag.IntVar(&kubeAPIBurst, "kube-api-burst", 400, "Most Kubernetes API requests per second in a burst, above --kube-api-qps.")
	flag.DurationVar(&leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a leader's lease lasts: a replica taking over after a crash waits up to this long.")
	flag.DurationVar(&renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader tries to renew its lease.")
	flag.DurationVar(&retryPeriod, "leader-election-retry-period", 2*time.Second, "How often replicas try to take or renew the lease.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")
	if createGrace < callTimeout {
		setupLog.Error(nil, "--create-grace-period must be at least --browserbase-timeout: a create may be committed as late as the call lasts",
			"createGracePeriod", createGrace, "browserbaseTimeout", callTimeout)
		os.Exit(2)
	}

	// The heap is mostly the informer cache: long-lived objects that change little once their
	// sessions are up. Collecting at 50% growth instead of Go's 100% holds about a sixth less
	// memory for some more CPU during a bring-up (make bench measures both); GOGC in the
	// environment still decides.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(50)
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOptions := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		metricsOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(kubeAPIQPS), kubeAPIBurst
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metricsOptions,
		WebhookServer:          webhook.NewServer(webhook.Options{TLSOpts: tlsOpts}),
		HealthProbeBindAddress: probeAddr,
		PprofBindAddress:       pprofAddr,
		LeaderElection:         enableLeaderElection,
		LeaderElectionID:       leaderElectionID,
		// The process exits as soon as the manager stops, so handing the lease over at once is
		// safe, and a restarted or upgraded operator does not wait out the old lease.
		LeaderElectionReleaseOnCancel: true,
		LeaderElectionNamespace:       leaderElectionNamespace,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
		Cache:                         operator.CacheOptions(splitNamespaces(watchNamespaces)...),
	})
	if err != nil {
		setupLog.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	bb, err := browserbase.NewHTTPClient(browserbaseURL, browserbase.WithTimeout(callTimeout),
		browserbase.WithUserAgent("browserbase-session-operator"))
	if err != nil {
		setupLog.Error(err, "Invalid --browserbase-url")
		os.Exit(1)
	}
	defaultKey := browserbase.Sensitive(os.Getenv("BROWSERBASE_API_KEY"))
	if defaultKey == "" {
		setupLog.Info("BROWSERBASE_API_KEY is not set: only BrowserSessions with spec.apiKeySecretRef can be reconciled")
	}

	if clusterID == "" {
		if clusterID, err = defaultClusterID(mgr.GetAPIReader()); err != nil {
			setupLog.Error(err, "Cannot read the kube-system namespace's UID for the cluster's identity; set --cluster-id")
			os.Exit(1)
		}
	}
	credentials := &reconcile.Credentials{
		Reader:          mgr.GetAPIReader(),
		Default:         defaultKey,
		RecheckInterval: credentialsRecheck,
	}
	if err := (&browsersession.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		// The limit outside the metrics, so that their latencies are Browserbase's, not the wait.
		Browserbase:             browserbase.LimitConcurrency(metrics.InstrumentClient(bb), maxBrowserbase),
		Credentials:             credentials,
		Kit:                     reconcile.Kit{Recorder: mgr.GetEventRecorder("browserbase-session-operator"), Clock: clock.RealClock{}},
		PollInterval:            pollInterval,
		MaxConcurrentReconciles: maxConcurrentReconciles,
		CreateGate:              browsersession.NewCreateGate(clock.RealClock{}, createsPerMinute, createBurst),
		CreateGracePeriod:       createGrace,
		ClusterID:               clusterID,
		SweepInterval:           sweepInterval,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Unable to set up the BrowserSession controller")
		os.Exit(1)
	}
	if err := (&browsercontext.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		// The same HTTP client: context calls are few (a create, a read every
		// --context-poll-interval, a delete), so they go outside the session calls' limiter.
		Browserbase:             bb,
		Credentials:             credentials,
		Kit:                     reconcile.Kit{Recorder: mgr.GetEventRecorder("browserbase-session-operator"), Clock: clock.RealClock{}},
		PollInterval:            contextPollInterval,
		MaxConcurrentReconciles: maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Unable to set up the BrowserContext controller")
		os.Exit(1)
	}

	// BrowserSessions by status, counted from the cache at scrape time.
	ctrlmetrics.Registry.MustRegister(metrics.NewSessionCollector(mgr.GetCache()))

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager", "browserbaseURL", bb.BaseURL(), "clusterID", clusterID, "watchNamespaces", watchNamespaces)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// splitNamespaces reads --watch-namespaces.
func splitNamespaces(list string) []string {
	var out []string
	for _, ns := range strings.Split(list, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// defaultClusterID is the UID of the kube-system namespace: every cluster has one, it is unique,
// and a cluster restored from another's backup gets its own.
func defaultClusterID(reader client.Reader) (string, error) {
	ns := &corev1.Namespace{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reader.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, ns); err != nil {
		return "", err
	}
	return string(ns.UID), nil
}
