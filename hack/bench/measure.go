package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

// measure creates o.n BrowserSessions at once in namespace ns and measures their bring-up (until
// every one has been Ready), then a steady window of o.steady in which nothing changes: Browserbase
// calls, Kubernetes requests, the manager's CPU and memory, and the sessions Browserbase holds.
func measure(ctx context.Context, o options, env *localenv.Env, emu *emulator.Server, k8s client.WithWatch, ns string, rss *rssSampler) (result, error) {
	watchSessions := func() (watch.Interface, error) {
		return k8s.Watch(ctx, &v1alpha1.BrowserSessionList{}, client.InNamespace(ns))
	}

	log.Printf("creating %d BrowserSessions at once (%d Browserbase calls at once, %s each)", o.n, o.workers, o.latency)
	before, err := snapshot(ctx, env, emu)
	if err != nil {
		return result{}, err
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
		return result{}, err
	}
	afterBringUp, err := snapshot(ctx, env, emu)
	if err != nil {
		return result{}, err
	}
	bringUp := diff(before, afterBringUp)
	bringUp.seconds, bringUp.rssPeak, bringUp.rssEnd = bringUpTime.Seconds(), rss.peak(), rss.current()
	// The benchmark's own writes: one create per BrowserSession.
	bringUp.k8s["POST browsersessions"] -= o.n

	log.Printf("all Ready in %s; measuring a %s steady window", bringUpTime.Round(time.Millisecond), o.steady)
	time.Sleep(o.steady) // the steady window itself: nothing changes, and nothing should happen
	afterSteady, err := snapshot(ctx, env, emu)
	if err != nil {
		return result{}, err
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
	return result{
		bringUpTime: bringUpTime, latencies: latencies, bringUp: bringUp, steady: steady,
		creates: creates, duplicates: duplicates, idleRSS: idleRSS,
	}, nil
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
	objectWrite = "writes to BrowserSessions, Secrets, templates"
	eventWrite  = "event writes"
	leaseWrite  = "lease writes"
	read        = "reads (GET, LIST)"
)

// managerResources are what the manager reads and writes; the control plane's own requests
// (its endpoints and its identity lease's reads) are not counted.
var managerResources = map[string]bool{
	"browsersessions": true, "browsersessions/status": true, "secrets": true, "events": true, "leases": true,
	"browsersessiontemplates/status": true, // the pods phase's template counts its sessions
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
