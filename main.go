// Command manager runs the Browserbase session operator: it reconciles BrowserSession and
// BrowserContext resources into Browserbase cloud-browser sessions and contexts, and their Secrets,
// and gives each Pod that opts in through a BrowserSessionTemplate a BrowserSession of its own.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"os"
	"runtime/debug"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // cloud-provider auth for --kubeconfig
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/scheme"
)

// The name the operator gives itself: Browserbase sees it as the User-Agent, Kubernetes as the
// source of its events.
const operatorName = "browserbase-session-operator"

var setupLog = ctrl.Log.WithName("setup")

func main() {
	// flag.CommandLine, not a FlagSet of our own: controller-runtime registers --kubeconfig there,
	// and a flag it cannot parse exits 2 with the usage.
	opts, err := parseFlags(flag.CommandLine, os.Args[1:])
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.log)))
	if err != nil {
		setupLog.Error(err, "Invalid flags")
		os.Exit(2)
	}
	tuneGC()

	mgr, err := newManager(&opts.manager, opts.scope.namespaces())
	exitOnError(err, "Unable to create the manager")
	bb, err := newBrowserbaseClients(&opts.browserbase)
	exitOnError(err, "Invalid --browserbase-url")
	clusterID, err := resolveClusterID(opts.scope.clusterID, mgr.GetAPIReader())
	exitOnError(err, "Cannot read the kube-system namespace's UID for the cluster's identity; set --cluster-id")

	exitOnError(setupControllers(mgr, opts, bb, clusterID), "Unable to set up the controllers")
	exitOnError(setupWebhook(mgr, opts.webhook), "Unable to set up the Pod injection webhook")
	exitOnError(setupObservability(mgr), "Unable to set up the health checks")

	setupLog.Info("Starting manager", "browserbaseURL", bb.baseURL, "clusterID", clusterID,
		"watchNamespaces", opts.scope.watchNamespaces)
	exitOnError(mgr.Start(ctrl.SetupSignalHandler()), "Manager stopped with an error")
}

// exitOnError logs err with msg and exits 1, when there is an error.
func exitOnError(err error, msg string) {
	if err != nil {
		setupLog.Error(err, msg)
		os.Exit(1)
	}
}

// tuneGC lowers the GC target when GOGC does not set one. The heap is mostly the informer cache:
// long-lived objects that change little once their sessions are up. Collecting at 50% growth
// instead of Go's 100% holds about a sixth less memory for some more CPU during a bring-up (make
// bench measures both); GOGC in the environment still decides.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(50)
	}
}

// newManager builds the controller-runtime manager: its Kubernetes client, its metrics, probe
// and pprof endpoints, leader election, and a cache of the watched namespaces only.
func newManager(o *managerOptions, namespaces []string) (manager.Manager, error) {
	var tlsOpts []func(*tls.Config)
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOptions := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.secureMetrics, TLSOpts: tlsOpts}
	if o.secureMetrics {
		metricsOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(o.kubeAPIQPS), o.kubeAPIBurst
	return ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metricsOptions,
		HealthProbeBindAddress: o.probeAddr,
		PprofBindAddress:       o.pprofAddr,
		LeaderElection:         o.leaderElect,
		LeaderElectionID:       o.leaderElectionID,
		// The process exits as soon as the manager stops, so handing the lease over at once is
		// safe, and a restarted or upgraded operator does not wait out the old lease.
		LeaderElectionReleaseOnCancel: true,
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaseDuration:                 &o.leaseDuration,
		RenewDeadline:                 &o.renewDeadline,
		RetryPeriod:                   &o.retryPeriod,
		Cache:                         operator.CacheOptions(namespaces...),
	})
}

// browserbaseClients are what the controllers call Browserbase through: one HTTP client, its
// calls counted and timed in the API metrics, and held to --max-concurrent-browserbase-calls by
// one Limiter, session and context calls together, since Browserbase sees them all from one
// operator.
type browserbaseClients struct {
	baseURL  string // redacted, for the log
	sessions browserbase.Client
	contexts browserbase.ContextClient
	projects browserbase.ProjectClient
	// router sends the calls made with a project's key to the project's spec.baseURL.
	router *browserbase.Router
}

func newBrowserbaseClients(o *browserbaseOptions) (*browserbaseClients, error) {
	newClient := func(url string) (*browserbase.HTTPClient, error) {
		return browserbase.NewHTTPClient(url, browserbase.WithTimeout(o.callTimeout), browserbase.WithUserAgent(operatorName))
	}
	def, err := newClient(o.url)
	if err != nil {
		return nil, err
	}
	bb := browserbase.NewRouter(def, newClient)
	limiter := browserbase.NewLimiter(o.maxConcurrentCalls)
	// The limit outside the metrics, so that their latencies are Browserbase's, not the wait.
	return &browserbaseClients{
		baseURL:  def.BaseURL(),
		sessions: limiter.Client(metrics.InstrumentClient(bb)),
		contexts: limiter.ContextClient(metrics.InstrumentContextClient(bb)),
		projects: limiter.ProjectClient(metrics.InstrumentProjectClient(bb)),
		router:   bb,
	}, nil
}

// resolveClusterID is --cluster-id, or when it is empty the UID of the kube-system namespace:
// every cluster has one, it is unique, and a cluster restored from another's backup gets its own.
func resolveClusterID(flagValue string, reader client.Reader) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	ns := &corev1.Namespace{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reader.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, ns); err != nil {
		return "", err
	}
	return string(ns.UID), nil
}

// setupObservability adds the BrowserSessions-by-status metrics, counted from the cache at
// scrape time, and the health and ready checks.
func setupObservability(mgr manager.Manager) error {
	ctrlmetrics.Registry.MustRegister(metrics.NewSessionCollector(mgr.GetCache()))
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("readyz", healthz.Ping)
}
