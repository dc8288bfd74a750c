// Command bench measures the operator as a user sizing a cluster would: it starts a local control
// plane and the Browserbase emulator (fixed latency, no rate limits), creates unrelated Secrets
// (which must cost nothing), then N BrowserSessions at once, runs the manager binary as its own
// process, and reports bring-up time against the API's floor, create→Ready latencies (seen by a
// watch), Browserbase calls and Kubernetes writes per session during bring-up and in a steady
// window after it, and the manager's memory and CPU. With -pods N it then scales a Deployment of
// opted-in Pods (label browserbase.io/session-template) from 0 to N, with the Pod webhook and
// kube-controller-manager running, and reports Pod→Secret latencies and calls per Pod beside
// the standalone figures, then scales to 0 and waits until every session is released (pods.go).
//
// With -ends it then measures, with the N sessions Ready, Browserbase reads per minute by kind
// and how soon K sessions that end are seen as Ready=False; then (-ends-no-feed, the default)
// again with the manager restarted with --session-list-interval=0, for the cost without the
// session feed (ends.go). With -queue it brings up -queue-n BrowserSessions, created one after
// another, in a BrowserbaseProject whose emulated plan allows L creates a minute and C live
// sessions, and reports the order, the pace against i×60/L, 429s and reads by minute and the most
// sessions live; then a renewal cycle of -renew-n sessions renewed before expiry (queue.go).
// -queue-budget gives the project spec.maxCreatesPerMinute=L instead of letting it learn L.
//
//	make bench                      # N=1000, 2000 Secrets, 100 ms latency, 60 s steady window
//	go run ./hack/bench -n 100 -steady 10s
//	go run ./hack/bench -n 100 -secrets 200 -steady 10s -pods 100
//	go run ./hack/bench -n 10 -secrets 0 -steady 1s -queue  # N=1000, L=50, C=250: about 30 min
//	go run ./hack/bench -n 1000 -ends                       # reads with and without the feed
//	make bench BENCH_ARGS="-queue -queue-budget -ends"      # any of these, through make
//
// It exits non-zero only on a correctness breach (a session created twice, a resource not
// Ready, a Pod without its Secret, a session not released, more sessions live than the plan
// allows, a session expired before its renewal's successor was Ready), never because of time.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

const (
	apiKey         = "bb_bench_key_0123456789"
	benchNamespace = "bench"
)

type options struct {
	n, secrets, workers int
	pods                int
	// The emulator's project limits (0: none, the default, so that the operator is measured
	// rather than the plan). Standalone sessions stay live through the pods phase: a
	// concurrency limit below n+pods leaves Pods waiting on 429s until the timeout.
	concurrency, createsPerMinute int
	latency, steady               time.Duration
	timeout                       time.Duration
	managerArgs                   string

	// The queue phase (queue.go).
	queue                  bool
	queueN, queueL, queueC int
	queueTimeout           int
	queueBudget            bool
	renewN, renewTimeout   int
	// The ends phase (ends.go).
	ends       bool
	endsK      int
	endsWindow time.Duration
	endsNoFeed bool
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1000, "BrowserSessions to create at once.")
	flag.IntVar(&o.secrets, "secrets", 2000, "Unrelated Secrets to create first.")
	flag.IntVar(&o.workers, "workers", 4, "The manager's --max-concurrent-browserbase-calls (4 is its default): how many "+
		"Browserbase calls it makes at once, which sets the floor.")
	flag.DurationVar(&o.latency, "latency", 100*time.Millisecond, "The emulator's latency per API call.")
	flag.DurationVar(&o.steady, "steady", 60*time.Second, "The steady window measured after bring-up.")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "How long bring-up may take before it counts as a failure.")
	flag.IntVar(&o.pods, "pods", 0, "Opted-in Pods to scale a Deployment to after the standalone BrowserSessions (0: no pods phase).")
	flag.IntVar(&o.concurrency, "concurrency", 0, "The emulated project's concurrent session limit (0: none).")
	flag.IntVar(&o.createsPerMinute, "creates-per-minute", 0, "The emulated project's session creates per minute (0: no limit).")
	flag.StringVar(&o.managerArgs, "manager-args", "",
		"More manager flags, space-separated; none by default, so that the shipped defaults are what is measured.")
	flag.BoolVar(&o.queue, "queue", false, "Run the queue phase: -queue-n BrowserSessions created one after another in a "+
		"BrowserbaseProject of -queue-creates-per-minute and -queue-concurrency, then -renew-n renewed before expiry.")
	flag.IntVar(&o.queueN, "queue-n", 1000, "The queue phase's BrowserSessions.")
	flag.IntVar(&o.queueL, "queue-creates-per-minute", 50, "The queue phase's project: creates per rolling minute (429 beyond).")
	flag.IntVar(&o.queueC, "queue-concurrency", 250, "The queue phase's project: concurrent sessions.")
	flag.IntVar(&o.queueTimeout, "queue-timeout", 300, "The queue phase's session timeout in seconds (renewal Never).")
	flag.BoolVar(&o.queueBudget, "queue-budget", false, "Give the project spec.maxCreatesPerMinute = -queue-creates-per-minute "+
		"(without it the operator learns the limit from 429s).")
	flag.IntVar(&o.renewN, "renew-n", 100, "The queue phase's BrowserSessions renewed before expiry, created at once (0: none).")
	flag.IntVar(&o.renewTimeout, "renew-timeout", 300, "Their session timeout in seconds.")
	flag.BoolVar(&o.ends, "ends", false, "Run the ends phase: reads per minute with the -n sessions Ready, and how soon "+
		"-ends-k sessions that end are seen.")
	flag.IntVar(&o.endsK, "ends-k", 50, "Sessions the ends phase ends, spaced over about 10 s.")
	flag.DurationVar(&o.endsWindow, "ends-window", time.Minute, "The ends phase's steady window, in which reads are counted "+
		"(2m at least without the feed: two poll intervals).")
	flag.BoolVar(&o.endsNoFeed, "ends-no-feed", true, "Run the ends phase a second time with the manager restarted "+
		"with --session-list-interval=0 (no session feed: each live session read every --session-poll-interval).")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if err := run(context.Background(), o); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	assets, err := localenv.AssetsDir(ctx, root)
	if err != nil {
		return err
	}
	workDir, err := os.MkdirTemp("", "bbs-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(workDir) }()

	emu := emulator.New()
	emu.AddKey(apiKey, emulator.Project{ID: "bench", DefaultTimeout: 21600,
		Concurrency: o.concurrency, CreatesPerMinute: o.createsPerMinute})
	if o.queue {
		emu.AddKey(queueAPIKey, emulator.Project{ID: queueProjectID, DefaultTimeout: 21600,
			Concurrency: o.queueC, CreatesPerMinute: o.queueL})
	}
	emu.SetFaults(emulator.Faults{Latency: o.latency})
	server := httptest.NewServer(emu)
	defer server.Close()

	// Kept after the run, for a look at what the manager said.
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return err
	}
	managerLog, err := os.Create(filepath.Join(root, "bin", "bench-manager.log"))
	if err != nil {
		return err
	}
	args := append([]string{fmt.Sprintf("--max-concurrent-browserbase-calls=%d", o.workers)}, strings.Fields(o.managerArgs)...)
	env, err := localenv.Start(ctx, localenv.Options{
		RepoRoot: root, AssetsDir: assets, WorkDir: workDir,
		BrowserbaseURL: server.URL, APIKey: apiKey, ManagerOutput: managerLog, ManagerArgs: args, Metrics: true,
		Webhook: o.pods > 0, ControllerManager: o.pods > 0,
	})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()

	cfg := rest.CopyConfig(env.AdminConfig)
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	k8s, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	const ns = benchNamespace
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	log.Printf("creating %d unrelated Secrets", o.secrets)
	if err := parallel(o.secrets, 32, func(i int) error {
		return k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("unrelated-%05d", i)},
			StringData: map[string]string{"data": strings.Repeat("x", 256)},
		})
	}); err != nil {
		return err
	}
	if err := env.StartManager(); err != nil {
		return err
	}
	rss := sampleRSS(env.Manager().PID())
	defer rss.stop()
	time.Sleep(3 * time.Second) // let the manager start and win its lease before the clock starts

	res, err := measure(ctx, o, env, emu, k8s, ns, rss)
	if err != nil {
		return err
	}
	report(o, res)
	if res.duplicates > 0 || res.creates != o.n {
		return fmt.Errorf("correctness breach: %d sessions for %d resources (%d duplicates)", res.creates, o.n, res.duplicates)
	}
	var breaches []string
	if o.pods > 0 {
		pods, err := measurePods(ctx, o, env, emu, k8s)
		if err != nil {
			return err
		}
		reportPods(o, res, pods)
		if why := pods.breach(); why != "" {
			breaches = append(breaches, why)
		}
	}
	var ends []endsResult
	if o.ends {
		r, err := measureEnds(ctx, o, emu, k8s, "feed (defaults)", o.endsWindow)
		if err != nil {
			return err
		}
		ends = append(ends, r)
	}
	if o.queue {
		q, err := measureQueue(ctx, o, emu, k8s)
		reportQueue(o, q)
		if err != nil {
			return err
		}
		if why := q.breach(o); why != "" {
			breaches = append(breaches, why)
		}
	}
	if o.ends && o.endsNoFeed {
		// Last, as it leaves a manager localenv does not know of (no metrics, no webhook).
		ready, err := readySessions(ctx, k8s)
		if err != nil {
			return err
		}
		log.Printf("restarting the manager with --session-list-interval=0")
		from := len(emu.Requests())
		m, err := restartManager(o, env, emu, workDir, server.URL, managerLog, []string{"--session-list-interval=0"})
		if err != nil {
			return err
		}
		defer func() { _ = m.stop() }()
		settle(emu, from, len(ready))
		// Two poll intervals at least: each session is read once a minute, at times that the
		// restart bunched together.
		r, err := measureEnds(ctx, o, emu, k8s, "no feed (list interval 0)", max(o.endsWindow, 2*time.Minute))
		if err != nil {
			return err
		}
		ends = append(ends, r)
	}
	if len(ends) > 0 {
		reportEnds(ends)
	}
	if len(breaches) > 0 {
		return fmt.Errorf("correctness breach: %s", strings.Join(breaches, "; "))
	}
	return nil
}

// parallel runs f(0..n-1) on at most width goroutines and returns the first error.
func parallel(n, width int, f func(int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, width)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
