// Command bench measures the operator as a user sizing a cluster would: it starts a local control
// plane and the Browserbase emulator (fixed latency, no rate limits), creates unrelated Secrets
// (which must cost nothing), then N BrowserSessions at once, runs the manager binary as its own
// process, and reports bring-up time against the API's floor, create→Ready latencies (seen by a
// watch), Browserbase calls and Kubernetes writes per session during bring-up and in a steady
// window after it, and the manager's memory and CPU.
//
//	make bench                      # N=1000, 2000 Secrets, 100 ms latency, 60 s steady window
//	go run ./hack/bench -n 100 -steady 10s
//
// It exits non-zero only on a correctness breach (a session created twice, a resource not
// Ready), never because of time.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
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
	latency, steady     time.Duration
	timeout             time.Duration
	managerArgs         string
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1000, "BrowserSessions to create at once.")
	flag.IntVar(&o.secrets, "secrets", 2000, "Unrelated Secrets to create first.")
	flag.IntVar(&o.workers, "workers", 4, "The manager's --max-concurrent-reconciles (4 is its default).")
	flag.DurationVar(&o.latency, "latency", 100*time.Millisecond, "The emulator's latency per API call.")
	flag.DurationVar(&o.steady, "steady", 60*time.Second, "The steady window measured after bring-up.")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "How long bring-up may take before it counts as a failure.")
	flag.StringVar(&o.managerArgs, "manager-args", "--creates-per-minute=0",
		"More manager flags, space-separated. The default turns off the client-side creation limit (25/min by default), "+
			"which would otherwise be what is measured.")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if err := run(context.Background(), o); err != nil {
		log.Fatal(err)
	}
}

// window holds what was counted between two moments.
type window struct {
	seconds  float64
	bbCalls  map[string]int // by kind:status
	k8sWrite map[string]int // by resource, from apiserver_request_total
	cpu      float64
	rssPeak  int64
	rssEnd   int64
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
	emu.AddKey(apiKey, emulator.Project{ID: "bench", DefaultTimeout: 21600})
	emu.SetFaults(emulator.Faults{Latency: o.latency})
	server := httptest.NewServer(emu)
	defer server.Close()

	managerLog, err := os.Create(filepath.Join(workDir, "manager.log"))
	if err != nil {
		return err
	}
	args := append([]string{fmt.Sprintf("--max-concurrent-reconciles=%d", o.workers)}, strings.Fields(o.managerArgs)...)
	env, err := localenv.Start(ctx, localenv.Options{
		RepoRoot: root, AssetsDir: assets, WorkDir: workDir,
		BrowserbaseURL: server.URL, APIKey: apiKey, ManagerOutput: managerLog, ManagerArgs: args,
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
	pid := env.Manager().PID()
	time.Sleep(3 * time.Second) // let the manager start and win its lease before the clock starts

	watchSessions := func() (watch.Interface, error) {
		return k8s.Watch(ctx, &v1alpha1.BrowserSessionList{}, client.InNamespace(ns))
	}

	log.Printf("creating %d BrowserSessions at once (%d workers, %s per Browserbase call)", o.n, o.workers, o.latency)
	before, err := snapshot(ctx, env, emu, pid)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	started := map[string]time.Time{}
	start := time.Now()
	go func() {
		_ = parallel(o.n, 64, func(i int) error {
			name := fmt.Sprintf("s-%05d", i)
			mu.Lock()
			started[name] = time.Now()
			mu.Unlock()
			return k8s.Create(ctx, &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
		})
	}()

	latencies, err := waitReady(watchSessions, o.n, start.Add(o.timeout), &mu, started)
	bringUp := time.Since(start)
	if err != nil {
		return err
	}
	afterBringUp, err := snapshot(ctx, env, emu, pid)
	if err != nil {
		return err
	}
	log.Printf("all Ready in %s; measuring a %s steady window", bringUp.Round(time.Millisecond), o.steady)
	time.Sleep(o.steady) // the steady window itself: nothing changes, and nothing should happen
	afterSteady, err := snapshot(ctx, env, emu, pid)
	if err != nil {
		return err
	}

	creates := 0
	perUID := map[string]int{}
	for _, s := range emu.Sessions() {
		creates++
		tag, _ := s.UserMetadata["k8s"].(map[string]any)
		perUID[fmt.Sprint(tag["uid"])]++
	}
	duplicates := 0
	for _, c := range perUID {
		duplicates += c - 1
	}
	bring := diff(before, afterBringUp, bringUp.Seconds())
	steady := diff(afterBringUp, afterSteady, o.steady.Seconds())
	// The benchmark's own writes: one create per BrowserSession.
	bring.k8sWrite["browsersessions"] -= o.n
	report(o, bringUp, latencies, bring, steady, creates, duplicates, afterSteady)
	if duplicates > 0 || creates != o.n {
		return fmt.Errorf("correctness breach: %d sessions for %d resources (%d duplicates)", creates, o.n, duplicates)
	}
	return nil
}

// waitReady follows a watch until n resources have been Ready, and returns their create→Ready
// latencies, sorted. A watch the API server ends is opened again (it replays current state).
func waitReady(open func() (watch.Interface, error), n int, deadline time.Time, mu *sync.Mutex, started map[string]time.Time) ([]time.Duration, error) {
	ready := map[string]time.Duration{}
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	w, err := open()
	if err != nil {
		return nil, err
	}
	defer func() { w.Stop() }()
	for len(ready) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				if w, err = open(); err != nil {
					return nil, err
				}
				continue
			}
			bs, ok := ev.Object.(*v1alpha1.BrowserSession)
			if !ok || !meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
				continue
			}
			if _, seen := ready[bs.Name]; !seen {
				mu.Lock()
				ready[bs.Name] = time.Since(started[bs.Name])
				mu.Unlock()
			}
		case <-timeout.C:
			return nil, fmt.Errorf("correctness breach: only %d of %d BrowserSessions Ready in time", len(ready), n)
		}
	}
	out := make([]time.Duration, 0, n)
	for _, d := range ready {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

type counters struct {
	at       time.Time
	bbCalls  map[string]int
	k8sWrite map[string]int
	cpu      float64
	rss, hwm int64
}

// snapshot reads the emulator's request log, the API server's write counters and the manager's
// CPU and memory.
func snapshot(ctx context.Context, env *localenv.Env, emu *emulator.Server, pid int) (counters, error) {
	c := counters{at: time.Now(), bbCalls: map[string]int{}, k8sWrite: map[string]int{}}
	for _, r := range emu.Requests() {
		c.bbCalls[r.Kind()+":"+strconv.Itoa(r.Status)]++
	}
	raw, err := env.Kubectl(ctx, "get", "--raw", "/metrics")
	if err != nil {
		return c, err
	}
	sc := bufio.NewScanner(strings.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, value, _ := strings.Cut(line, "} ")
		verb, resource, sub := label(labels, "verb"), label(labels, "resource"), label(labels, "subresource")
		if verb != "POST" && verb != "PUT" && verb != "PATCH" && verb != "DELETE" && verb != "APPLY" {
			continue
		}
		if sub != "" {
			resource += "/" + sub
		}
		n, _ := strconv.ParseFloat(value, 64)
		c.k8sWrite[resource] += int(n)
	}
	c.cpu, c.rss, c.hwm = procStats(pid)
	return c, nil
}

func label(labels, name string) string {
	_, rest, ok := strings.Cut(labels, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// procStats returns CPU seconds, RSS and peak RSS (bytes) of a process.
func procStats(pid int) (cpu float64, rss, hwm int64) {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name, which is in parentheses and may hold spaces.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			f := strings.Fields(string(stat)[i+2:])
			if len(f) > 12 {
				ut, _ := strconv.ParseFloat(f[11], 64)
				st, _ := strconv.ParseFloat(f[12], 64)
				cpu = (ut + st) / 100 // USER_HZ
			}
		}
	}
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			switch fields[0] {
			case "VmRSS:":
				rss = kb << 10
			case "VmHWM:":
				hwm = kb << 10
			}
		}
	}
	return cpu, rss, hwm
}

func diff(a, b counters, seconds float64) window {
	w := window{seconds: seconds, bbCalls: map[string]int{}, k8sWrite: map[string]int{}, cpu: b.cpu - a.cpu, rssPeak: b.hwm, rssEnd: b.rss}
	for k, v := range b.bbCalls {
		if d := v - a.bbCalls[k]; d != 0 {
			w.bbCalls[k] = d
		}
	}
	for k, v := range b.k8sWrite {
		if d := v - a.k8sWrite[k]; d != 0 {
			w.k8sWrite[k] = d
		}
	}
	return w
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func report(o options, bringUp time.Duration, lat []time.Duration, bring, steady window, creates, duplicates int, end counters) {
	floor := time.Duration(float64(o.n) * float64(o.latency) / float64(o.workers))
	perSession := func(w window, prefix string) float64 {
		n := 0
		for k, v := range w.bbCalls {
			if strings.HasPrefix(k, prefix) {
				n += v
			}
		}
		return float64(n) / float64(o.n)
	}
	writes := func(w window) int {
		n := 0
		for resource, v := range w.k8sWrite {
			if resource != "leases" { // leader election renewals, not per session
				n += v
			}
		}
		return n
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	perMinute := 60 / steady.seconds

	fmt.Printf("\n%-52s %s\n", "BrowserSessions / unrelated Secrets", fmt.Sprintf("%d / %d", o.n, o.secrets))
	fmt.Printf("%-52s %s\n", "workers / emulator latency", fmt.Sprintf("%d / %s", o.workers, o.latency))
	fmt.Printf("%-52s %s\n", "first create to all Ready", bringUp.Round(time.Millisecond))
	fmt.Printf("%-52s %s (achieved/floor %.2f)\n", "floor: N x latency / workers", floor.Round(time.Millisecond), bringUp.Seconds()/floor.Seconds())
	fmt.Printf("%-52s %s / %s / %s\n", "create->Ready p50 / p90 / p99", percentile(lat, .5).Round(time.Millisecond),
		percentile(lat, .9).Round(time.Millisecond), percentile(lat, .99).Round(time.Millisecond))
	fmt.Printf("%-52s %.3f (duplicates %d)\n", "sessions created per BrowserSession", float64(creates)/float64(o.n), duplicates)
	fmt.Printf("%-52s %v\n", "Browserbase calls during bring-up", bring.bbCalls)
	fmt.Printf("%-52s %v\n", "Browserbase calls during the steady window", steady.bbCalls)
	fmt.Printf("%-52s %.2f\n", "steady Browserbase GETs per session per minute", perSession(steady, "get")*perMinute)
	fmt.Printf("%-52s %v\n", "Kubernetes writes by the manager, bring-up", bring.k8sWrite)
	fmt.Printf("%-52s %.2f\n", "  per session (without leases)", float64(writes(bring))/float64(o.n))
	fmt.Printf("%-52s %v\n", "Kubernetes writes, steady window", steady.k8sWrite)
	fmt.Printf("%-52s %.1f s / %.1f s\n", "manager CPU, bring-up / steady", bring.cpu, steady.cpu)
	fmt.Printf("%-52s %.0f MiB / %.0f MiB\n", "manager RSS, peak / final", mib(end.hwm), mib(end.rss))
	fmt.Printf("bench summary: n=%d secrets=%d workers=%d latency_ms=%d bringup_s=%.2f floor_s=%.2f ratio=%.2f p50_ms=%d p90_ms=%d p99_ms=%d "+
		"creates_per_session=%.3f duplicates=%d bringup_k8s_writes_per_session=%.2f steady_k8s_writes=%d steady_gets_per_session_per_min=%.2f "+
		"steady_lists=%d rss_peak_mib=%.0f rss_final_mib=%.0f cpu_bringup_s=%.1f cpu_steady_s=%.1f\n",
		o.n, o.secrets, o.workers, o.latency.Milliseconds(), bringUp.Seconds(), floor.Seconds(), bringUp.Seconds()/floor.Seconds(),
		percentile(lat, .5).Milliseconds(), percentile(lat, .9).Milliseconds(), percentile(lat, .99).Milliseconds(),
		float64(creates)/float64(o.n), duplicates, float64(writes(bring))/float64(o.n), writes(steady),
		perSession(steady, "get")*perMinute, int(perSession(steady, "list")*float64(o.n)),
		mib(end.hwm), mib(end.rss), bring.cpu, steady.cpu)
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
