package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/browsercontext"
	"github.com/browserbase/session-operator/internal/sessionfeed"
)

// options are the manager's command line, grouped by what each part configures. Flag names and
// defaults are an interface: the chart, hack/dev and the e2e and fault suites pass them.
type options struct {
	manager     managerOptions
	browserbase browserbaseOptions
	scope       scopeOptions
	webhook     webhookOptions
	log         zap.Options
}

// bindFlags registers every flag of the manager on fs.
func (o *options) bindFlags(fs *flag.FlagSet) {
	o.manager.bindFlags(fs)
	o.browserbase.bindFlags(fs)
	o.scope.bindFlags(fs)
	o.webhook.bindFlags(fs)
	o.log.BindFlags(fs)
}

// validate reports a combination of flags the manager must not run with, naming the flags.
func (o *options) validate() error {
	return o.browserbase.validate()
}

// parseFlags binds the options to fs, parses args into them and validates them. The options
// come back even with an error, so that the logger they configure can report it.
func parseFlags(fs *flag.FlagSet, args []string) (*options, error) {
	o := &options{}
	o.bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, o.validate()
}

// managerOptions configure controller-runtime's manager: its endpoints, leader election, its
// Kubernetes client and its reconcile workers.
type managerOptions struct {
	metricsAddr   string
	secureMetrics bool
	enableHTTP2   bool
	probeAddr     string
	pprofAddr     string

	leaderElect             bool
	leaderElectionID        string
	leaderElectionNamespace string
	leaseDuration           time.Duration
	renewDeadline           time.Duration
	retryPeriod             time.Duration

	kubeAPIQPS              float64
	kubeAPIBurst            int
	maxConcurrentReconciles int
}

func (o *managerOptions) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to, "+
		"for example :8443 (HTTPS) or :8080 (HTTP). 0 disables it.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, to authenticated and authorized clients only.")
	fs.BoolVar(&o.enableHTTP2, "enable-http2", false, "Serve metrics over HTTP/2 too (off: HTTP/2 Rapid Reset, CVE-2023-44487).")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "The address Go's pprof profiles are served on, for example "+
		"127.0.0.1:6060. 0 disables them.")

	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time.")
	fs.StringVar(&o.leaderElectionID, "leader-election-id", "session-operator.browserbase.io",
		"The name of the leader election lease: give each installation in a namespace its own.")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "",
		"The namespace of the leader election lease; needed outside a cluster, where it cannot be inferred.")
	fs.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a leader's lease lasts: a replica taking over after a crash waits up to this long.")
	fs.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader tries to renew its lease.")
	fs.DurationVar(&o.retryPeriod, "leader-election-retry-period", 2*time.Second, "How often replicas try to take or renew the lease.")

	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 200,
		"Most Kubernetes API requests per second, sustained (a session brought up costs about 5; one polled, none).")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 400, "Most Kubernetes API requests per second in a burst, above --kube-api-qps.")
	fs.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", 8,
		"How many BrowserSessions are reconciled in parallel (their Kubernetes reads and writes); as many BrowserContexts, apart.")
}

// browserbaseOptions configure the calls to the Browserbase API: where, how long each may take,
// how many at once and how many creates, and how often each resource is looked at again.
type browserbaseOptions struct {
	url                string
	callTimeout        time.Duration
	maxConcurrentCalls int
	createsPerMinute   int
	createGracePeriod  time.Duration

	sessionPollInterval time.Duration
	sessionListInterval time.Duration
	contextPollInterval time.Duration
	sweepInterval       time.Duration
	credentialsRecheck  time.Duration
}

func (o *browserbaseOptions) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "browserbase-url", envOr("BROWSERBASE_BASE_URL", browserbase.DefaultBaseURL),
		"The Browserbase API base URL (environment: BROWSERBASE_BASE_URL).")
	fs.DurationVar(&o.callTimeout, "browserbase-timeout", 30*time.Second, "Timeout of each Browserbase API call.")
	fs.IntVar(&o.maxConcurrentCalls, "max-concurrent-browserbase-calls", 4,
		"How many Browserbase API calls are made at once, for all BrowserSessions and BrowserContexts together (0: no limit).")
	fs.IntVar(&o.createsPerMinute, "creates-per-minute", 0,
		"Most session creates per minute for a project (or key) without spec.maxCreatesPerMinute: set it to your plan's creation "+
			"limit to avoid even the first 429. 0: none until Browserbase's first 429, from which the limit is learned.")
	fs.DurationVar(&o.createGracePeriod, "create-grace-period", 30*time.Second,
		"How long after a create whose answer was lost the session list is trusted to show the session it may have made, "+
			"counted from the end of that call. At least --browserbase-timeout: Browserbase may commit a create as late as that.")

	fs.DurationVar(&o.sessionPollInterval, "session-poll-interval", time.Minute,
		"How often each BrowserSession is looked at while its session runs (sooner when it is about to expire). With "+
			"--session-list-interval its session is read from the last list then, without a call of its own.")
	fs.DurationVar(&o.sessionListInterval, "session-list-interval", sessionfeed.DefaultInterval,
		"How often the running sessions of each API key in use are listed (one call per key): a session that ends is "+
			"noticed within it, and live sessions need no reads of their own. 0: each live session is read every "+
			"--session-poll-interval instead.")
	fs.DurationVar(&o.contextPollInterval, "context-poll-interval", browsercontext.DefaultPollInterval,
		"How often each BrowserContext's context is read from Browserbase, to notice one deleted outside the operator.")
	fs.DurationVar(&o.sweepInterval, "sweep-interval", time.Hour,
		"How often each BrowserSession's tagged sessions are listed, to release any that is not its recorded session "+
			"(a create Browserbase committed late, a second manager's). 0: only on create, adoption and delete.")
	fs.DurationVar(&o.credentialsRecheck, "credentials-recheck-interval", time.Minute,
		"How often a missing API-key or proxy-password Secret is looked for again.")
}

// validate rejects a grace period shorter than a call: the session list could then be trusted
// before a create still in flight at Browserbase is committed, and the session it makes leaked.
func (o *browserbaseOptions) validate() error {
	if o.createGracePeriod < o.callTimeout {
		return fmt.Errorf("--create-grace-period (%s) must be at least --browserbase-timeout (%s): "+
			"a create may be committed as late as the call lasts", o.createGracePeriod, o.callTimeout)
	}
	return nil
}

// scopeOptions say which Kubernetes resources and which Browserbase sessions are this
// installation's.
type scopeOptions struct {
	clusterID       string
	watchNamespaces string
}

func (o *scopeOptions) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.clusterID, "cluster-id", "", "This cluster's identity, tagged on every session so that only this "+
		"cluster's operator adopts or releases it (a restore into a standby cluster must not touch production's sessions). "+
		"Default: the UID of the kube-system namespace.")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces whose BrowserSessions and "+
		"BrowserContexts this operator reconciles (default: all). For deliberate splits between installs; Secrets are then "+
		"read and cached in these namespaces only.")
}

// namespaces is --watch-namespaces as a list; empty for all namespaces.
func (o *scopeOptions) namespaces() []string {
	var out []string
	for _, ns := range strings.Split(o.watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
