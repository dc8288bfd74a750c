package main

// The queue phase (-queue): a project with a creation limit L and a concurrency limit C, N
// BrowserSessions created one after another in declaration order, and how the operator's fair
// queue brings them up: in what order, how close to the ideal pace of one create every 60s/L,
// with how many 429s, and never above C. Then a renewal cycle of M resources renewed before
// expiry in the same project: how the renewal creates spread, and whether any session expired
// before its successor was Ready.

import (
	"context"
	"fmt"
	"log"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
)

const (
	queueNamespace = "bench-queue"
	queueProjectID = "bench-queue" // the emulator's project of queueAPIKey
	queueAPIKey    = "bb_bench_queue_key_0123456789"
	queueProject   = "bench" // the BrowserbaseProject's name
	phaseLabel     = "bench.browserbase.io/phase"
)

// queueResult is what the queue phase measured.
type queueResult struct {
	start   time.Time
	bringUp time.Duration
	ready   []time.Duration // first Ready after start, by declaration index (-1: never)
	// order: ready is the rank of each declaration index in Ready order.
	inversions, inversionsAfterBurst int
	maxLate, maxEarly                int             // the largest Ready rank − declaration rank, and the most negative
	readyOrder                       []int           // declaration indices in Ready order
	lateness                         []time.Duration // Ready − i×60/L, sorted
	throttled                        []int           // 429s by minute after start
	throttledConcurrency             int             // of them, refused while C sessions were live
	reads                            []int           // GETs and lists by minute after start
	maxLive                          int
	creates, duplicates              int
	learned                          int32 // the project's status.createsPerMinuteLimit at the end
	renew                            renewResult
}

// renewResult is what the renewal sub-phase measured.
type renewResult struct {
	firstReady   time.Duration // the start to the last first session Ready
	cycle        time.Duration // the start to the last successor Ready
	renewals     []time.Time   // each resource's second session's create
	expiredFirst int           // predecessors that ended or expired before their successor was Ready
	missing      int           // resources without a Ready successor at the deadline
	duplicates   int           // resources with a second session before their first was Ready
}

// readyLog records, from a watch, when each BrowserSession was first seen Ready, and when first
// seen Ready with a revision of 2 or more (its first renewal's successor).
type readyLog struct {
	mu       sync.Mutex
	ready    map[string]time.Time
	renewed  map[string]time.Time
	notReady map[string]time.Time // the first time seen not Ready after since[name]
	since    map[string]time.Time
}

func followReady(ctx context.Context, k8s client.WithWatch, ns string) *readyLog {
	l := &readyLog{ready: map[string]time.Time{}, renewed: map[string]time.Time{},
		notReady: map[string]time.Time{}, since: map[string]time.Time{}}
	go follow(ctx, func() (watch.Interface, error) {
		return k8s.Watch(ctx, &v1alpha1.BrowserSessionList{}, client.InNamespace(ns))
	}, func(obj client.Object) {
		bs, ok := obj.(*v1alpha1.BrowserSession)
		if !ok {
			return
		}
		now := time.Now()
		ready := meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady)
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, seen := l.ready[bs.Name]; ready && !seen {
			l.ready[bs.Name] = now
		}
		if _, seen := l.renewed[bs.Name]; ready && !seen && bs.Status.Revision >= 2 {
			l.renewed[bs.Name] = now
		}
		if since, ok := l.since[bs.Name]; ok && !ready && now.After(since) {
			if _, seen := l.notReady[bs.Name]; !seen {
				l.notReady[bs.Name] = now
			}
		}
	})
	return l
}

// count returns how many of names have an entry in m.
func (l *readyLog) count(m map[string]time.Time, names []string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, name := range names {
		if _, ok := m[name]; ok {
			n++
		}
	}
	return n
}

func (l *readyLog) get(m map[string]time.Time, name string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := m[name]
	return t, ok
}

// waitCount waits until every one of names has an entry in m (then true), or the deadline.
func (l *readyLog) waitCount(m map[string]time.Time, names []string, deadline time.Time, what string) bool {
	lastLog := time.Now()
	for {
		n := l.count(m, names)
		if n == len(names) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		if time.Since(lastLog) > 30*time.Second {
			log.Printf("  %d of %d %s", n, len(names), what)
			lastLog = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// createProject creates the namespace, the key's Secret and the BrowserbaseProject (with the
// creation budget when o.queueBudget), and waits until the project is Ready.
func createProject(ctx context.Context, o options, k8s client.Client) error {
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: queueNamespace}}); err != nil {
		return err
	}
	if err := k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: queueNamespace, Name: "bench-key"},
		StringData: map[string]string{"apiKey": queueAPIKey},
	}); err != nil {
		return err
	}
	p := &v1alpha1.BrowserbaseProject{
		ObjectMeta: metav1.ObjectMeta{Namespace: queueNamespace, Name: queueProject},
		Spec: v1alpha1.BrowserbaseProjectSpec{
			APIKeySecretRef: v1alpha1.ProjectAPIKeySecretReference{Name: "bench-key", Key: "apiKey"},
		},
	}
	if o.queueBudget {
		p.Spec.MaxCreatesPerMinute = ptr.To(int32(o.queueL))
	}
	if err := k8s.Create(ctx, p); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return err
		}
		if meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionReady) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the BrowserbaseProject is not Ready after 2 minutes: %+v", p.Status.Conditions)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func queueSession(name, phase string, timeout int, policy v1alpha1.RenewalPolicy) *v1alpha1.BrowserSession {
	return &v1alpha1.BrowserSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: queueNamespace, Name: name, Labels: map[string]string{phaseLabel: phase}},
		Spec: v1alpha1.BrowserSessionSpec{
			Timeout:    ptr.To(int32(timeout)),
			ProjectRef: &v1alpha1.ProjectReference{Kind: v1alpha1.KindBrowserbaseProject, Name: queueProject},
			Renewal:    &v1alpha1.Renewal{Policy: policy},
		},
	}
}

// measureQueue runs the queue phase and its renewal sub-phase.
func measureQueue(ctx context.Context, o options, emu *emulator.Server, k8s client.WithWatch) (queueResult, error) {
	var r queueResult
	if err := createProject(ctx, o, k8s); err != nil {
		return r, err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	seen := followReady(watchCtx, k8s, queueNamespace)

	budget := "none: learned from 429s"
	if o.queueBudget {
		budget = fmt.Sprintf("spec.maxCreatesPerMinute=%d", o.queueL)
	}
	log.Printf("queue: creating %d BrowserSessions one after another in a project of %d creates/min, %d concurrent (budget %s)",
		o.queueN, o.queueL, o.queueC, budget)
	names := make([]string, o.queueN)
	firstRequest := len(emu.Requests())
	r.start = time.Now()
	for i := range names {
		names[i] = fmt.Sprintf("q-%04d", i)
		if err := k8s.Create(ctx, queueSession(names[i], "queue", o.queueTimeout, v1alpha1.RenewalNever)); err != nil {
			return r, err
		}
	}
	floor := time.Duration(float64(o.queueN) / float64(o.queueL) * float64(time.Minute))
	deadline := r.start.Add(max(o.timeout, 2*floor+5*time.Minute))
	allReady := seen.waitCount(seen.ready, names, deadline, "queued BrowserSessions Ready")
	r.bringUp = time.Since(r.start)
	end := time.Now()

	r.ready = make([]time.Duration, len(names))
	for i, name := range names {
		r.ready[i] = -1
		if at, ok := seen.get(seen.ready, name); ok {
			r.ready[i] = at.Sub(r.start)
		}
	}
	r.order(o)
	sessions := emu.Sessions()
	requests := emu.Requests()[firstRequest:]
	r.calls(o, sessions, requests, end)
	perName := sessionsByName(sessions, "q-")
	for _, s := range perName {
		r.creates += len(s)
		r.duplicates += len(s) - 1
	}
	p := &v1alpha1.BrowserbaseProject{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: queueNamespace, Name: queueProject}, p); err == nil {
		r.learned = p.Status.CreatesPerMinuteLimit
	}
	if !allReady {
		return r, fmt.Errorf("correctness breach: only %d of %d queued BrowserSessions Ready in %s",
			seen.count(seen.ready, names), len(names), deadline.Sub(r.start).Round(time.Second))
	}

	// The renewal sub-phase starts from an empty project, so that what it measures is renewal,
	// not the wait for the queue phase's sessions to expire.
	log.Printf("queue: all Ready in %s; deleting them before the renewal sub-phase", r.bringUp.Round(time.Millisecond))
	if err := deleteAndDrain(ctx, emu, k8s, "queue"); err != nil {
		return r, err
	}
	if o.renewN > 0 {
		var err error
		r.renew, err = renewalSubPhase(ctx, o, emu, k8s, seen)
		return r, err
	}
	return r, nil
}

// renewalSubPhase measures one renewal cycle from an empty creation window, then deletes its
// BrowserSessions.
func renewalSubPhase(ctx context.Context, o options, emu *emulator.Server, k8s client.WithWatch, seen *readyLog) (renewResult, error) {
	waitForEmptyWindow(emu)
	r, err := measureRenewals(ctx, o, emu, k8s, seen)
	if err != nil {
		return r, err
	}
	return r, deleteAndDrain(ctx, emu, k8s, "renew")
}

// deleteAndDrain deletes the phase's BrowserSessions and waits (up to 3 minutes, not a breach)
// until they are gone and the project holds no live session.
func deleteAndDrain(ctx context.Context, emu *emulator.Server, k8s client.Client, phase string) error {
	if err := k8s.DeleteAllOf(ctx, &v1alpha1.BrowserSession{}, client.InNamespace(queueNamespace),
		client.MatchingLabels{phaseLabel: phase}); err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		list := &v1alpha1.BrowserSessionList{}
		if err := k8s.List(ctx, list, client.InNamespace(queueNamespace), client.MatchingLabels{phaseLabel: phase}); err != nil {
			return err
		}
		live := 0
		for _, s := range emu.Sessions() {
			if s.ProjectID == queueProjectID && (s.Status == "PENDING" || s.Status == "RUNNING") {
				live++
			}
		}
		if len(list.Items) == 0 && live == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			log.Printf("queue: %d %s BrowserSessions and %d live sessions left 3 minutes after the delete; going on", len(list.Items), phase, live)
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// measureRenewals creates o.renewN BrowserSessions renewed before expiry at once, waits until
// every one has been Ready and then Ready with its first successor, and reads from the emulator
// when each successor was created and when its predecessor ended or was due to.
func measureRenewals(ctx context.Context, o options, emu *emulator.Server, k8s client.Client, seen *readyLog) (renewResult, error) {
	var r renewResult
	names := make([]string, o.renewN)
	for i := range names {
		names[i] = fmt.Sprintf("r-%04d", i)
	}
	log.Printf("queue: creating %d BrowserSessions renewed before expiry (timeout %ds) at once", o.renewN, o.renewTimeout)
	start := time.Now()
	if err := parallel(len(names), 32, func(i int) error {
		return k8s.Create(ctx, queueSession(names[i], "renew", o.renewTimeout, v1alpha1.RenewalBeforeExpiry))
	}); err != nil {
		return r, err
	}
	bringUp := time.Duration(float64(o.renewN)/float64(o.queueL)*float64(time.Minute)) + 2*time.Minute
	if !seen.waitCount(seen.ready, names, start.Add(bringUp+o.timeout), "renewed BrowserSessions Ready") {
		return r, fmt.Errorf("correctness breach: only %d of %d renewed BrowserSessions Ready", seen.count(seen.ready, names), len(names))
	}
	r.firstReady = time.Since(start)
	log.Printf("queue: their first sessions Ready in %s; waiting one renewal cycle", r.firstReady.Round(time.Millisecond))
	for name, s := range sessionsByName(emu.Sessions(), "r-") {
		// A second session created before the first was even Ready is not a renewal.
		if first, ok := seen.get(seen.ready, name); ok && len(s) > 1 && s[1].CreatedAt.Before(first) {
			r.duplicates++
		}
	}
	deadline := time.Now().Add(bringUp + 2*time.Duration(o.renewTimeout)*time.Second + 2*time.Minute)
	seen.waitCount(seen.renewed, names, deadline, "renewed BrowserSessions Ready with their successor")
	r.cycle = time.Since(start)

	perName := sessionsByName(emu.Sessions(), "r-")
	for _, name := range names {
		s := perName[name]
		readyAt, ok := seen.get(seen.renewed, name)
		if !ok || len(s) < 2 {
			r.missing++
			continue
		}
		r.renewals = append(r.renewals, s[1].CreatedAt)
		end := s[0].ExpiresAt
		if s[0].EndedAt != nil && s[0].EndedAt.Before(end) {
			end = *s[0].EndedAt
		}
		if readyAt.After(end) {
			r.expiredFirst++
		}
	}
	slices.SortFunc(r.renewals, func(a, b time.Time) int { return a.Compare(b) })
	return r, nil
}

// sessionsByName groups the emulator's sessions of the queue namespace whose resource name has
// prefix, oldest first.
func sessionsByName(sessions []emulator.Session, prefix string) map[string][]emulator.Session {
	out := map[string][]emulator.Session{}
	for _, s := range sessions {
		tag, _ := s.UserMetadata[v1alpha1.ReservedMetadataKey].(map[string]any)
		name, _ := tag["name"].(string)
		if tag["namespace"] != queueNamespace || !strings.HasPrefix(name, prefix) {
			continue
		}
		out[name] = append(out[name], s)
	}
	for _, s := range out {
		slices.SortFunc(s, func(a, b emulator.Session) int { return a.CreatedAt.Compare(b.CreatedAt) })
	}
	return out
}

// order computes the Ready order's inversions and displacements, and each resource's lateness
// against its ideal slot.
func (r *queueResult) order(o options) {
	idx := make([]int, 0, len(r.ready))
	for i, d := range r.ready {
		if d >= 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return r.ready[idx[a]] < r.ready[idx[b]] })
	r.readyOrder = idx
	for rank, i := range idx {
		r.maxLate = max(r.maxLate, rank-i)
		r.maxEarly = min(r.maxEarly, rank-i)
		if rank > 0 && idx[rank-1] > i {
			r.inversions++
			if r.ready[i] >= time.Minute { // past the first minute, whose creates go before a limit is learned
				r.inversionsAfterBurst++
			}
		}
		ideal := time.Duration(float64(i) * float64(time.Minute) / float64(o.queueL))
		r.lateness = append(r.lateness, r.ready[i]-ideal)
	}
	slices.Sort(r.lateness)
}

// calls counts the project's 429s and reads by minute, and the most sessions live at once (from
// each session's create and end), up to end.
func (r *queueResult) calls(o options, sessions []emulator.Session, requests []emulator.Request, end time.Time) {
	minutes := int(end.Sub(r.start)/time.Minute) + 1
	r.throttled, r.reads = make([]int, minutes), make([]int, minutes)
	type change struct {
		at    time.Time
		delta int
	}
	var changes []change
	for _, s := range sessions {
		if s.ProjectID != queueProjectID {
			continue
		}
		changes = append(changes, change{s.CreatedAt, 1})
		ended := s.ExpiresAt
		if s.EndedAt != nil {
			ended = *s.EndedAt
		}
		changes = append(changes, change{ended, -1})
	}
	// Ends first at one instant: the emulator counts a session that expires now as ended.
	slices.SortFunc(changes, func(a, b change) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	live, next := 0, 0
	liveAt := func(t time.Time) int {
		for next < len(changes) && !changes[next].at.After(t) {
			live += changes[next].delta
			if changes[next].at.Before(end) {
				r.maxLive = max(r.maxLive, live)
			}
			next++
		}
		return live
	}
	for _, req := range requests {
		if req.ProjectID != queueProjectID || req.Time.After(end) {
			continue
		}
		m := min(minutes-1, int(req.Time.Sub(r.start)/time.Minute))
		switch kind := req.Kind(); {
		case req.Status == 429:
			r.throttled[m]++
			if liveAt(req.Time) >= o.queueC {
				r.throttledConcurrency++
			}
		case kind == "get" || kind == "list":
			r.reads[m]++
		}
	}
	liveAt(end)
}

// breach says what is wrong with the queue phase, "" if nothing.
func (r queueResult) breach(o options) string {
	var why []string
	if r.duplicates > 0 {
		why = append(why, fmt.Sprintf("%d duplicate sessions for the queued BrowserSessions", r.duplicates))
	}
	if r.maxLive > o.queueC {
		why = append(why, fmt.Sprintf("%d sessions live at once, above the project's concurrency of %d", r.maxLive, o.queueC))
	}
	if r.renew.expiredFirst > 0 {
		why = append(why, fmt.Sprintf("%d sessions expired before their successor was Ready", r.renew.expiredFirst))
	}
	if r.renew.missing > 0 {
		why = append(why, fmt.Sprintf("%d renewed BrowserSessions without a Ready successor", r.renew.missing))
	}
	if r.renew.duplicates > 0 {
		why = append(why, fmt.Sprintf("%d renewed BrowserSessions with a second session before their first was due", r.renew.duplicates))
	}
	return strings.Join(why, "; ")
}

func reportQueue(o options, r queueResult) {
	line := func(name string, value any) { fmt.Printf("%-54s %v\n", name, value) }
	s := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
	floor := time.Duration(float64(o.queueN) / float64(o.queueL) * float64(time.Minute))
	budget := "none (learned from 429s)"
	if o.queueBudget {
		budget = fmt.Sprintf("spec.maxCreatesPerMinute=%d", o.queueL)
	}
	fmt.Println()
	line("queue: BrowserSessions / creates per minute / concurrency", fmt.Sprintf("%d / %d / %d (timeout %ds, renewal Never)", o.queueN, o.queueL, o.queueC, o.queueTimeout))
	line("  budget", budget)
	line("  first create to all Ready", fmt.Sprintf("%s (floor N/L: %s, achieved/floor %.2f)", s(r.bringUp), s(floor), r.bringUp.Seconds()/floor.Seconds()))
	line("  Ready order: adjacent inversions (after the first minute)", fmt.Sprintf("%d (%d)", r.inversions, r.inversionsAfterBurst))
	line("  Ready rank - declaration rank: most late / most early", fmt.Sprintf("%d / %d", r.maxLate, r.maxEarly))
	if r.inversions > 0 {
		line("  Ready order's first 40 (declaration indices)", fmt.Sprint(r.readyOrder[:min(40, len(r.readyOrder))]))
	}
	line("  Ready - ideal slot i*60/L: p50 / p95 / max", fmt.Sprintf("%s / %s / %s", s(percentile(r.lateness, .5)), s(percentile(r.lateness, .95)), s(percentile(r.lateness, 1))))
	total := 0
	for _, n := range r.throttled {
		total += n
	}
	line("  429s by minute (total; refused at concurrency)", fmt.Sprintf("%v (%d; %d)", r.throttled, total, r.throttledConcurrency))
	line("  API reads (GET, list) by minute", fmt.Sprintf("%v", r.reads))
	line("  most sessions live at once / concurrency", fmt.Sprintf("%d / %d", r.maxLive, o.queueC))
	line("  sessions created (duplicates)", fmt.Sprintf("%d (%d)", r.creates, r.duplicates))
	line("  project status.createsPerMinuteLimit at the end", r.learned)
	if o.renewN > 0 {
		rr := r.renew
		line("renewal: BrowserSessions (BeforeExpiry, timeout)", fmt.Sprintf("%d (%ds), created at once", o.renewN, o.renewTimeout))
		line("  first sessions all Ready / successors all Ready", fmt.Sprintf("%s / %s", s(rr.firstReady), s(rr.cycle)))
		line("  predecessor ended before successor Ready (must be 0)", rr.expiredFirst)
		line("  without a Ready successor / early duplicates", fmt.Sprintf("%d / %d", rr.missing, rr.duplicates))
		if len(rr.renewals) > 0 {
			fmt.Printf("  renewal creates per 10 s from the first (cap L/6 = %.1f):\n", float64(o.queueL)/6)
			first := rr.renewals[0]
			buckets := make([]int, int(rr.renewals[len(rr.renewals)-1].Sub(first)/(10*time.Second))+1)
			for _, t := range rr.renewals {
				buckets[int(t.Sub(first)/(10*time.Second))]++
			}
			for i, n := range buckets {
				fmt.Printf("    +%4ds %4d %s\n", i*10, n, strings.Repeat("#", n))
			}
		}
	}
	fmt.Printf("bench queue summary: n=%d l=%d c=%d budget=%t bringup_s=%.1f floor_s=%.1f inversions=%d inversions_after_burst=%d "+
		"max_late=%d max_early=%d lateness_p50_s=%.1f lateness_p95_s=%.1f throttled=%d throttled_concurrency=%d max_live=%d "+
		"duplicates=%d learned=%d renew_n=%d renew_cycle_s=%.1f renew_expired_first=%d renew_missing=%d\n",
		o.queueN, o.queueL, o.queueC, o.queueBudget, r.bringUp.Seconds(), floor.Seconds(), r.inversions, r.inversionsAfterBurst,
		r.maxLate, r.maxEarly, percentile(r.lateness, .5).Seconds(), percentile(r.lateness, .95).Seconds(), total,
		r.throttledConcurrency, r.maxLive, r.duplicates, r.learned, o.renewN, r.renew.cycle.Seconds(), r.renew.expiredFirst, r.renew.missing)
}

// waitForEmptyWindow waits until the project's last create is a minute old: the renewal
// sub-phase starts from an empty creation window, or the queue phase's last creates would hold
// the renewals back, and it would measure the queue phase again, not renewal.
func waitForEmptyWindow(emu *emulator.Server) {
	var last time.Time
	for _, s := range emu.Sessions() {
		if s.ProjectID == queueProjectID && s.CreatedAt.After(last) {
			last = s.CreatedAt
		}
	}
	if wait := time.Until(last.Add(time.Minute + time.Second)); wait > 0 {
		log.Printf("queue: waiting %s for the project's creation window to empty", wait.Round(time.Second))
		time.Sleep(wait)
	}
}
