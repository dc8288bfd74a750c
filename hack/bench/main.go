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
//	make bench                      # N=1000, 2000 Secrets, 100 ms latency, 60 s steady window
//	go run ./hack/bench -n 100 -steady 10s
//	go run ./hack/bench -n 100 -secrets 200 -steady 10s -pods 100
//
// It exits non-zero only on a correctness breach (a session created twice, a resource not
// Ready, a Pod without its Secret, a session not released), never because of time.
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

const apiKey = "bb_bench_key_0123456789"

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
	const ns = "bench"
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
	if o.pods == 0 {
		return nil
	}
	pods, err := measurePods(ctx, o, env, emu, k8s)
	if err != nil {
		return err
	}
	reportPods(o, res, pods)
	if why := pods.breach(); why != "" {
		return fmt.Errorf("correctness breach: %s", why)
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
