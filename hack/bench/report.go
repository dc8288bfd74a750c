package main

import (
	"fmt"
	"maps"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"time"
)

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
