package main

// The ends phase (-ends): with the main phase's BrowserSessions Ready in the default project,
// what keeping them fresh costs in Browserbase reads per minute (by kind), and how soon a
// session that ends (as a workload's browser.close() would end it) shows as Ready=False. Run
// with the shipped defaults (the session feed: one list per key every 5 s), then, unless
// -ends-no-feed=false, again with the manager restarted with --session-list-interval=0 (each
// live session read every --session-poll-interval), so that the two costs can be compared.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

const benchProjectID = "bench" // the emulator's project of apiKey

// endsResult is what one run of the ends phase measured.
type endsResult struct {
	label      string
	live       int // Ready BrowserSessions during the window
	window     time.Duration
	gets       int            // GET /v1/sessions/{id} in the window
	lists      int            // GET /v1/sessions in the window
	listsBy    map[string]int // lists by query shape (status=RUNNING, a metadata search)
	detect     []time.Duration
	undetected int
}

// measureEnds measures a steady window's reads, then ends o.endsK random Ready sessions spaced
// over about 10 s, and waits for their resources to turn Ready=False.
func measureEnds(ctx context.Context, o options, emu *emulator.Server, k8s client.WithWatch, label string, window time.Duration) (endsResult, error) {
	r := endsResult{label: label, window: window, listsBy: map[string]int{}}
	ready, err := readySessions(ctx, k8s)
	if err != nil {
		return r, err
	}
	r.live = len(ready)
	log.Printf("ends (%s): %d Ready; measuring reads for %s", label, r.live, window)
	first := len(emu.Requests())
	time.Sleep(window)
	for _, req := range emu.Requests()[first:] {
		if req.ProjectID != benchProjectID {
			continue
		}
		switch req.Kind() {
		case "get":
			r.gets++
		case "list":
			r.lists++
			r.listsBy[queryShape(req.Query)]++
		}
	}

	k := min(o.endsK, len(ready))
	rand.Shuffle(len(ready), func(i, j int) { ready[i], ready[j] = ready[j], ready[i] })
	ended := ready[:k]
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	seen := followReady(watchCtx, k8s, benchNamespace)
	time.Sleep(time.Second) // the watch's replay of current state
	log.Printf("ends (%s): ending %d sessions over about 10 s", label, k)
	names := make([]string, k)
	for i, bs := range ended {
		names[i] = bs.Name
		seen.mu.Lock()
		seen.since[bs.Name] = time.Now()
		seen.mu.Unlock()
		if !emu.SetSessionStatus(bs.Status.ID, "COMPLETED") {
			return r, fmt.Errorf("the emulator has no session %s of %s", bs.Status.ID, bs.Name)
		}
		if i < k-1 {
			time.Sleep(10 * time.Second / time.Duration(k))
		}
	}
	// Without the feed an end is noticed at the next poll: a minute by default.
	seen.waitCount(seen.notReady, names, time.Now().Add(3*time.Minute), "ended sessions seen Ready=False")
	for _, name := range names {
		since, _ := seen.get(seen.since, name)
		if at, ok := seen.get(seen.notReady, name); ok {
			r.detect = append(r.detect, at.Sub(since))
		} else {
			r.undetected++
		}
	}
	slices.Sort(r.detect)
	return r, nil
}

// queryShape is a list's query with a metadata search's value left out: "status=RUNNING", "q=…".
func queryShape(raw string) string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "unparsed"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(q)) {
		v := strings.Join(q[k], ",")
		if k == "q" {
			v = "…"
		}
		parts = append(parts, k+"="+v)
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, "&")
}

// readySessions lists the main phase's BrowserSessions that are Ready.
func readySessions(ctx context.Context, k8s client.Client) ([]v1alpha1.BrowserSession, error) {
	list := &v1alpha1.BrowserSessionList{}
	if err := k8s.List(ctx, list, client.InNamespace(benchNamespace)); err != nil {
		return nil, err
	}
	var ready []v1alpha1.BrowserSession
	for _, bs := range list.Items {
		if meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) && bs.Status.ID != "" {
			ready = append(ready, bs)
		}
	}
	return ready, nil
}

// benchManager is a manager process the bench starts itself, with other flags than localenv's
// (which takes its flags once, at Start).
type benchManager struct {
	cmd    *exec.Cmd
	exited chan error
}

// restartManager stops the environment's manager and starts the same binary, as the same
// ServiceAccount, with extra flags after the bench's own; it waits until the new one leads (it
// has made a Browserbase call). No webhook and no metrics: the phases that need them are over.
func restartManager(o options, env *localenv.Env, emu *emulator.Server, workDir, url string, out io.Writer, extra []string) (*benchManager, error) {
	if err := env.StopManager(); err != nil {
		log.Printf("stopping the manager: %v", err)
	}
	args := []string{
		"--kubeconfig=" + env.ManagerKubeconfig,
		"--leader-elect",
		"--leader-election-namespace=" + localenv.OperatorNamespace,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--webhook-port=0",
		fmt.Sprintf("--max-concurrent-browserbase-calls=%d", o.workers),
	}
	args = append(append(args, strings.Fields(o.managerArgs)...), extra...)
	cmd := exec.Command(filepath.Join(workDir, "manager"), args...)
	cmd.Env = append(os.Environ(), "BROWSERBASE_BASE_URL="+url, "BROWSERBASE_API_KEY="+apiKey)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = localenv.ChildAttr()
	first := len(emu.Requests())
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &benchManager{cmd: cmd, exited: make(chan error, 1)}
	go func() { m.exited <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for len(emu.Requests()) == first {
		select {
		case err := <-m.exited:
			m.exited <- err
			return nil, fmt.Errorf("the restarted manager exited: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			_ = m.stop()
			return nil, errors.New("the restarted manager made no Browserbase call in 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return m, nil
}

// stop stops the manager with SIGTERM and waits (SIGKILL after a minute).
func (m *benchManager) stop() error {
	if m == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.exited:
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 0 {
			return nil
		}
		return err
	case <-time.After(time.Minute):
		_ = m.cmd.Process.Kill()
		return <-m.exited
	}
}

// settle waits until the restarted manager has read each of live sessions once (its first
// reconcile of each), at most 2 minutes, so that the window measures the steady state.
func settle(emu *emulator.Server, from, live int) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		gets := 0
		for _, req := range emu.Requests()[from:] {
			if req.ProjectID == benchProjectID && req.Kind() == "get" {
				gets++
			}
		}
		if gets >= live {
			return
		}
		time.Sleep(time.Second)
	}
}

func reportEnds(runs []endsResult) {
	row := func(name string, values ...string) {
		fmt.Printf("%-54s", name)
		for _, v := range values {
			fmt.Printf(" %-28s", v)
		}
		fmt.Println()
	}
	each := func(f func(r endsResult) string) []string {
		out := make([]string, len(runs))
		for i, r := range runs {
			out[i] = f(r)
		}
		return out
	}
	s := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
	fmt.Println()
	row("ends: steady reads, then sessions ended", each(func(r endsResult) string { return r.label })...)
	row("  Ready sessions / window", each(func(r endsResult) string { return fmt.Sprintf("%d / %s", r.live, r.window) })...)
	perMin := func(n int, r endsResult) float64 { return float64(n) / r.window.Minutes() }
	row("  GET /v1/sessions/{id} per minute (per session)", each(func(r endsResult) string {
		return fmt.Sprintf("%.1f (%.3f)", perMin(r.gets, r), perMin(r.gets, r)/float64(max(r.live, 1)))
	})...)
	row("  GET /v1/sessions (list) per minute (per session)", each(func(r endsResult) string {
		return fmt.Sprintf("%.1f (%.3f)", perMin(r.lists, r), perMin(r.lists, r)/float64(max(r.live, 1)))
	})...)
	row("    lists by query", each(func(r endsResult) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.listsBy)) {
			parts = append(parts, fmt.Sprintf("%s: %.1f", k, perMin(r.listsBy[k], r)))
		}
		return strings.Join(parts, ", ")
	})...)
	row("  end -> Ready=False p50 / p95 / max", each(func(r endsResult) string {
		return fmt.Sprintf("%s / %s / %s", s(percentile(r.detect, .5)), s(percentile(r.detect, .95)), s(percentile(r.detect, 1)))
	})...)
	row("  ends not seen within 3 minutes", each(func(r endsResult) string { return fmt.Sprint(r.undetected) })...)
	for _, r := range runs {
		fmt.Printf("bench ends summary: run=%s live=%d window_s=%.0f gets_per_min=%.1f lists_per_min=%.1f reads_per_min_per_session=%.4f "+
			"detect_p50_s=%.1f detect_p95_s=%.1f detect_max_s=%.1f undetected=%d\n",
			strings.ReplaceAll(r.label, " ", "_"), r.live, r.window.Seconds(), perMin(r.gets, r), perMin(r.lists, r),
			perMin(r.gets+r.lists, r)/float64(max(r.live, 1)), percentile(r.detect, .5).Seconds(),
			percentile(r.detect, .95).Seconds(), percentile(r.detect, 1).Seconds(), r.undetected)
	}
}
