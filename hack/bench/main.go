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
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
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
	flag.IntVar(&o.workers, "workers", 4, "The manager's --max-concurrent-browserbase-calls (4 is its default): how many "+
		"Browserbase calls it makes at once, which sets the floor.")
	flag.DurationVar(&o.latency, "latency", 100*time.Millisecond, "The emulator's latency per API call.")
	flag.DurationVar(&o.steady, "steady", 60*time.Second, "The steady window measured after bring-up.")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "How long bring-up may take before it counts as a failure.")
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
	emu.AddKey(apiKey, emulator.Project{ID: "bench", DefaultTimeout: 21600})
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

	watchSessions := func() (watch.Interface, error) {
		return k8s.Watch(ctx, &v1alpha1.BrowserSessionList{}, client.InNamespace(ns))
	}

	log.Printf("creating %d BrowserSessions at once (%d Browserbase calls at once, %s each)", o.n, o.workers, o.latency)
	before, err := snapshot(ctx, env, emu)
	if err != nil {
		return err
	}
	idleRSS := rss.current()
	rss.peak() // from here on: bring-up
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
	bringUpTime := time.Since(start)
	if err != nil {
		return err
	}
	afterBringUp, err := snapshot(ctx, env, emu)
	if err != nil {
		return err
	}
	bringUp := diff(before, afterBringUp)
	bringUp.seconds, bringUp.rssPeak, bringUp.rssEnd = bringUpTime.Seconds(), rss.peak(), rss.current()
	// The benchmark's own writes: one create per BrowserSession.
	bringUp.k8s["POST browsersessions"] -= o.n

	log.Printf("all Ready in %s; measuring a %s steady window", bringUpTime.Round(time.Millisecond), o.steady)
	time.Sleep(o.steady) // the steady window itself: nothing changes, and nothing should happen
	afterSteady, err := snapshot(ctx, env, emu)
	if err != nil {
		return err
	}
	steady := diff(afterBringUp, afterSteady)
	steady.seconds, steady.rssPeak, steady.rssEnd = o.steady.Seconds(), rss.peak(), rss.current()

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
	report(o, result{
		bringUpTime: bringUpTime, latencies: latencies, bringUp: bringUp, steady: steady,
		creates: creates, duplicates: duplicates, idleRSS: idleRSS,
	})
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

// counters is what has been counted up to a moment.
type counters struct {
	bb   map[string]int // Browserbase calls by kind: create, get, list, release
	k8s  map[string]int // Kubernetes requests by "VERB resource[/subresource]"
	cpu  float64        // the manager's CPU seconds
	host float64        // every process's CPU seconds, for the machine's load
	// Histogram sums and counts from the manager's metrics, by "name{label}": where its time goes.
	sums, counts map[string]float64
}

// window is what was counted between two moments, with the manager's memory meanwhile.
type window struct {
	counters
	seconds         float64
	rssPeak, rssEnd int64
}

// snapshot reads the emulator's request log, the API server's request counters and the
// manager's CPU time.
func snapshot(ctx context.Context, env *localenv.Env, emu *emulator.Server) (counters, error) {
	c := counters{bb: map[string]int{}, k8s: map[string]int{}, sums: map[string]float64{}, counts: map[string]float64{}}
	for _, r := range emu.Requests() {
		c.bb[r.Kind()]++
	}
	raw, err := env.Kubectl(ctx, "get", "--raw", "/metrics")
	if err != nil {
		return c, err
	}
	// The last one stays, for a closer look at the API server.
	_ = os.WriteFile(filepath.Join("bin", "bench-apiserver-metrics.txt"), []byte(raw), 0o644)
	sc := bufio.NewScanner(strings.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		series, value, _ := strings.Cut(sc.Text(), "} ")
		name, labels, _ := strings.Cut(series, "{")
		if typ := label(labels, "type"); strings.HasPrefix(name, "etcd_request_duration_seconds_") &&
			(typ == "browsersessions.browserbase.io" || typ == "secrets" || typ == "events") {
			key := "etcd " + label(labels, "operation") + " " + typ
			n, _ := strconv.ParseFloat(value, 64)
			if strings.HasSuffix(name, "_sum") {
				c.sums[key] += n
			} else if strings.HasSuffix(name, "_count") {
				c.counts[key] += n
			}
			continue
		}
		if name != "apiserver_request_total" && name != "apiserver_request_duration_seconds_sum" &&
			name != "apiserver_request_duration_seconds_count" {
			continue
		}
		resource := label(labels, "resource")
		if resource == "" {
			continue // /metrics and the like
		}
		if sub := label(labels, "subresource"); sub != "" {
			resource += "/" + sub
		}
		key := label(labels, "verb") + " " + resource
		n, _ := strconv.ParseFloat(value, 64)
		switch name {
		case "apiserver_request_total":
			c.k8s[key] += int(n)
		case "apiserver_request_duration_seconds_sum":
			c.sums["API server "+key] += n
		default:
			c.counts["API server "+key] += n
		}
	}
	for key := range c.counts {
		if api, ok := strings.CutPrefix(key, "API server "); ok && kindOf(api) == "" {
			delete(c.counts, key)
			delete(c.sums, key)
		}
	}
	c.cpu = processCPU(env.Manager().PID())
	c.host = hostCPU()
	return c, managerTimings(env.Manager().MetricsURL, c.sums, c.counts)
}

// timings are the manager's histograms the report shows as means, with the label to split by.
var timings = map[string]string{
	"controller_runtime_reconcile_time_seconds": "",
	"workqueue_queue_duration_seconds":          "",
	"browserbase_api_request_duration_seconds":  "endpoint",
}

// managerTimings adds the _sum and _count of the timings histograms, from the manager's
// metrics, to sums and counts.
func managerTimings(url string, sums, counts map[string]float64) error {
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("reading the manager's metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(series, "#") {
			continue
		}
		name, labels, _ := strings.Cut(series, "{")
		target := sums
		base, isSum := strings.CutSuffix(name, "_sum")
		if !isSum {
			var isCount bool
			if base, isCount = strings.CutSuffix(name, "_count"); !isCount {
				continue
			}
			target = counts
		}
		by, ok := timings[base]
		if !ok {
			continue
		}
		if base == "workqueue_queue_duration_seconds" && label(labels, "name") != "browsersession" {
			continue
		}
		key := base
		if by != "" {
			key += "{" + label(labels, by) + "}"
		}
		v, _ := strconv.ParseFloat(value, 64)
		target[key] += v
	}
	return sc.Err()
}

func label(labels, name string) string {
	_, rest, ok := strings.Cut(labels, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func diff(a, b counters) window {
	w := window{counters: counters{bb: map[string]int{}, k8s: map[string]int{}, cpu: b.cpu - a.cpu, host: b.host - a.host,
		sums: map[string]float64{}, counts: map[string]float64{}}}
	for k, v := range b.sums {
		w.sums[k] = v - a.sums[k]
		w.counts[k] = b.counts[k] - a.counts[k]
	}
	for k, v := range b.bb {
		if d := v - a.bb[k]; d != 0 {
			w.bb[k] = d
		}
	}
	for k, v := range b.k8s {
		if d := v - a.k8s[k]; d != 0 {
			w.k8s[k] = d
		}
	}
	return w
}

// Kinds of Kubernetes request, as the report counts them.
const (
	objectWrite = "writes to BrowserSessions, Secrets"
	eventWrite  = "event writes"
	leaseWrite  = "lease writes"
	read        = "reads (GET, LIST)"
)

// managerResources are what the manager reads and writes; the control plane's own requests
// (its endpoints and its identity lease's reads) are not counted.
var managerResources = map[string]bool{
	"browsersessions": true, "browsersessions/status": true, "secrets": true, "events": true, "leases": true,
}

// kindOf sorts a "VERB resource" key into the report's kinds ("" for what is not counted:
// watches, and the control plane's own requests).
func kindOf(key string) string {
	verb, resource, _ := strings.Cut(key, " ")
	switch {
	case verb == "WATCH" || !managerResources[resource]:
		return ""
	case verb == "GET" || verb == "LIST":
		if resource == "leases" {
			return ""
		}
		return read
	case resource == "leases":
		return leaseWrite
	case resource == "events":
		return eventWrite
	default:
		return objectWrite
	}
}

func (w window) k8sCount(kind string) int {
	n := 0
	for key, v := range w.k8s {
		if kindOf(key) == kind {
			n += v
		}
	}
	return n
}

// rssSampler follows a process's resident memory, ten times a second.
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	max  int64
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.current()
			}
		}
	}()
	return s
}

// current reads the process's RSS now, counting it towards the peak.
func (s *rssSampler) current() int64 {
	rss := processRSS(s.pid)
	s.mu.Lock()
	s.max = max(s.max, rss)
	s.mu.Unlock()
	return rss
}

// peak returns the highest RSS since the last call, and starts a new window.
func (s *rssSampler) peak() int64 {
	now := processRSS(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	peak := max(s.max, now)
	s.max = now
	return peak
}

func (s *rssSampler) stop() { close(s.done) }

// processCPU returns a process's CPU seconds, user and system.
func processCPU(pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat)[i+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// hostCPU returns the CPU seconds every process on the machine has used (busy, not idle).
func hostCPU() float64 {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal
	busy := 0.0
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100
}

// processRSS returns a process's resident memory in bytes.
func processRSS(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// machine names the processor and counts the cores.
func machine() string {
	model := "unknown processor"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				model = strings.TrimSpace(value)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores", model, goruntime.NumCPU())
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

type result struct {
	bringUpTime         time.Duration
	latencies           []time.Duration
	bringUp, steady     window
	creates, duplicates int
	idleRSS             int64
}

func report(o options, r result) {
	n := float64(o.n)
	floor := time.Duration(n * float64(o.latency) / float64(o.workers))
	ratio := r.bringUpTime.Seconds() / floor.Seconds()
	perMinute := 60 / r.steady.seconds
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	p50, p90, p99 := percentile(r.latencies, .5), percentile(r.latencies, .9), percentile(r.latencies, .99)
	row := func(name string, bringUp, steady any) { fmt.Printf("%-54s %-20v %v\n", name, bringUp, steady) }
	line := func(name string, value any) { fmt.Printf("%-54s %v\n", name, value) }

	fmt.Println()
	line("machine", machine())
	line("BrowserSessions / unrelated Secrets", fmt.Sprintf("%d / %d", o.n, o.secrets))
	line("Browserbase calls at once (workers) / latency", fmt.Sprintf("%d / %s", o.workers, o.latency))
	line("first create to all Ready", r.bringUpTime.Round(time.Millisecond))
	line("floor: N x latency / workers", fmt.Sprintf("%s (achieved/floor %.2f)", floor.Round(time.Millisecond), ratio))
	line("create->Ready p50 / p90 / p99", fmt.Sprintf("%s / %s / %s", p50.Round(time.Millisecond), p90.Round(time.Millisecond), p99.Round(time.Millisecond)))
	line("sessions created per BrowserSession", fmt.Sprintf("%.3f (duplicates %d)", float64(r.creates)/n, r.duplicates))
	fmt.Println()
	row("", "bring-up", fmt.Sprintf("steady window (%s)", time.Duration(r.steady.seconds*float64(time.Second))))
	for _, kind := range []string{"create", "get", "list", "release"} {
		row("Browserbase "+kind+"s per session", fmt.Sprintf("%.3f", float64(r.bringUp.bb[kind])/n),
			fmt.Sprintf("%.3f (%.2f per minute)", float64(r.steady.bb[kind])/n, float64(r.steady.bb[kind])/n*perMinute))
	}
	for _, kind := range []string{objectWrite, eventWrite, read} {
		row("Kubernetes "+kind+" per session", fmt.Sprintf("%.3f", float64(r.bringUp.k8sCount(kind))/n),
			fmt.Sprintf("%.3f", float64(r.steady.k8sCount(kind))/n))
		for _, key := range slices.Sorted(maps.Keys(r.bringUp.k8s)) {
			if kindOf(key) == kind && (r.bringUp.k8s[key] != 0 || r.steady.k8s[key] != 0) {
				row("  "+key, fmt.Sprintf("%.3f", float64(r.bringUp.k8s[key])/n), fmt.Sprintf("%.3f", float64(r.steady.k8s[key])/n))
			}
		}
		for _, key := range slices.Sorted(maps.Keys(r.steady.k8s)) {
			if _, shown := r.bringUp.k8s[key]; !shown && kindOf(key) == kind {
				row("  "+key, "0.000", fmt.Sprintf("%.3f", float64(r.steady.k8s[key])/n))
			}
		}
	}
	// The leader's renewals, and the API server's own identity lease: not per session.
	row("Kubernetes "+leaseWrite+" (leader election, API server)", r.bringUp.k8sCount(leaseWrite), r.steady.k8sCount(leaseWrite))
	for _, key := range slices.Sorted(maps.Keys(r.bringUp.counts)) {
		mean := func(w window) string {
			if w.counts[key] == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f ms (%.0f)", w.sums[key]/w.counts[key]*1000, w.counts[key])
		}
		if r.bringUp.counts[key] > 0 || r.steady.counts[key] > 0 {
			row("mean "+strings.TrimSuffix(strings.TrimSuffix(key, "_seconds"), "_duration"), mean(r.bringUp), mean(r.steady))
		}
	}
	row("manager CPU seconds (whole machine)", fmt.Sprintf("%.1f (%.1f)", r.bringUp.cpu, r.bringUp.host),
		fmt.Sprintf("%.1f (%.1f)", r.steady.cpu, r.steady.host))
	row("manager RSS peak / at end, MiB", fmt.Sprintf("%.0f / %.0f", mib(r.bringUp.rssPeak), mib(r.bringUp.rssEnd)),
		fmt.Sprintf("%.0f / %.0f", mib(r.steady.rssPeak), mib(r.steady.rssEnd)))
	perThousand := mib(r.steady.rssEnd-r.idleRSS) / n * 1000
	line("manager RSS idle; added per 1000 sessions", fmt.Sprintf("%.0f MiB; %.1f MiB", mib(r.idleRSS), perThousand))

	fmt.Printf("bench summary: n=%d secrets=%d workers=%d latency_ms=%d bringup_s=%.2f floor_s=%.2f ratio=%.2f "+
		"p50_ms=%d p90_ms=%d p99_ms=%d creates_per_session=%.3f duplicates=%d "+
		"bringup_object_writes_per_session=%.3f bringup_event_writes_per_session=%.3f bringup_reads_per_session=%.3f "+
		"steady_object_writes=%d steady_event_writes=%d steady_gets_per_session_per_min=%.3f steady_lists=%d "+
		"rss_idle_mib=%.0f rss_peak_bringup_mib=%.0f rss_peak_steady_mib=%.0f rss_final_mib=%.0f rss_per_1000_mib=%.1f "+
		"cpu_bringup_s=%.1f cpu_steady_s=%.1f\n",
		o.n, o.secrets, o.workers, o.latency.Milliseconds(), r.bringUpTime.Seconds(), floor.Seconds(), ratio,
		p50.Milliseconds(), p90.Milliseconds(), p99.Milliseconds(), float64(r.creates)/n, r.duplicates,
		float64(r.bringUp.k8sCount(objectWrite))/n, float64(r.bringUp.k8sCount(eventWrite))/n, float64(r.bringUp.k8sCount(read))/n,
		r.steady.k8sCount(objectWrite), r.steady.k8sCount(eventWrite), float64(r.steady.bb["get"])/n*perMinute, r.steady.bb["list"],
		mib(r.idleRSS), mib(r.bringUp.rssPeak), mib(r.steady.rssPeak), mib(r.steady.rssEnd), perThousand,
		r.bringUp.cpu, r.steady.cpu)
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
