package faults

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

// The projects phase: BrowserSessions that name a BrowserbaseProject (spec.projectRef) rather
// than a key, so that their creates wait in the project's fair queue. The project gives no budget
// (spec.maxCreatesPerMinute): the queue admits at the manager's --creates-per-minute until the
// emulator's creation limit answers 429, and learns the limit from it. The phase has more
// sessions than the limit, so that the limit is reached whatever the chaos does; they are
// created one every 1.05 s at the start of the chaos, in declaration order, each in its own
// second (creationTimestamp, the queue's order, counts whole seconds), so that the order they
// become Ready in can be compared with the order they arrived in.
//
// Midway the project's key is rotated: the emulator knows a second key of the same project
// (emulator.AddKey: keys of one project ID share its sessions and its creation window), and the
// Secret the project names is updated to it. The rotation happens in a window without kills, so
// that it is the running manager that must notice it (the Secret watch), not a restart reading
// the new Secret: the window opens once the running manager has read the project with the old
// key, and closes once that same process (same PID, never exited) has read the project with the
// new key, the project is Ready, and a create has been made with the new key. The window is
// added to the first chaos loop, whose kills then resume. The old key stays valid (as during a
// real rotation, before the old key is revoked): the front door tells the two keys' calls apart,
// and a create with the old key after the switch (less the call timeout a create already
// started may take) is counted as a create with a stale key.
const (
	projectsKey        = "bb_faults_projects_key_012345678"
	projectsRotatedKey = "bb_faults_projects_key2_01234567"
	projectsProjectID  = "faults-projects"
	// projectsObject names the phase's BrowserbaseProject and its key Secret.
	projectsObject = "projects"
	projectsCount  = 36
	// projectsCreatesPerMinute is the emulator's creation limit for the project: below the
	// phase's sessions, so that a 429 teaches it. Its concurrency is far above them.
	projectsCreatesPerMinute = 20
	projectsConcurrency      = 100
	// projectsStaleKeyGrace is how long after the switch a create may still carry the old key:
	// a create that read the key just before is on its way for at most the call timeout
	// (--browserbase-timeout=5s), and its pass a little longer.
	projectsStaleKeyGrace = 10 * time.Second
	// projectsMinLearnedLimit is the lowest creation limit the queue may learn. A 429 comes when
	// the project's window holds projectsCreatesPerMinute creates, so the creates admitted in
	// the last minute less one is 19 for a process that saw that minute; half is a generous
	// floor (creates the queue counted that Browserbase did not, 5xx, only raise it).
	projectsMinLearnedLimit = projectsCreatesPerMinute / 2
)

func projectsName(i int) string { return fmt.Sprintf("bp-%02d", i) }

// projectsPhase creates the phase's sessions, rotates the key, and counts and checks the rest.
type projectsPhase struct {
	k8s   client.Client
	emu   *emulator.Server
	front *frontDoor
	hist  *history

	mu       sync.Mutex
	created  int
	err      error
	finished bool
	starts   []time.Time // when the main manager was started, each time
	rot      rotation
}

// rotation is what happened when the key was rotated.
type rotation struct {
	done      bool      // the rotation window ran
	oldRead   bool      // the running manager had read the project with the old key before
	at        time.Time // the Secret was updated
	switched  time.Time // the first project read with the new key that was answered 200
	firstNew  time.Time // the first create with the new key
	end       time.Time // the window closed (kills resume)
	samePID   bool      // the process that read the old key is the one that switched, and never exited
	reached   bool      // all of the above
	readyWith bool      // the project was Ready once the new key was read
	note      string
}

// addKeys gives the emulator the project's two keys, with the same limits, and has the front
// door record their calls.
func (p *projectsPhase) addKeys() {
	project := emulator.Project{ID: projectsProjectID, Concurrency: projectsConcurrency, CreatesPerMinute: projectsCreatesPerMinute}
	p.emu.AddKey(projectsKey, project)
	p.emu.AddKey(projectsRotatedKey, project)
	p.front.track(projectsKey, "old")
	p.front.track(projectsRotatedKey, "new")
}

// object is the phase's BrowserbaseProject: its key in Secret projects (key apiKey), no budget.
func (p *projectsPhase) object() *v1alpha1.BrowserbaseProject {
	bp := &v1alpha1.BrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: projectsObject}}
	bp.Spec.APIKeySecretRef = v1alpha1.ProjectAPIKeySecretReference{Name: projectsObject, Key: "apiKey"}
	return bp
}

// started records a start of the main manager.
func (p *projectsPhase) started(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts = append(p.starts, at)
}

func (p *projectsPhase) lastStart() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts[len(p.starts)-1]
}

// run creates the phase's BrowserSessions, one every 1.05 s, in declaration order.
func (p *projectsPhase) run(ctx context.Context) {
	defer func() {
		p.mu.Lock()
		p.finished = true
		p.mu.Unlock()
	}()
	for i := range projectsCount {
		bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: projectsName(i)}}
		bs.Spec.Timeout = ptr(int32(3600))
		bs.Spec.ProjectRef = &v1alpha1.ProjectReference{Kind: v1alpha1.KindBrowserbaseProject, Name: projectsObject}
		if err := p.k8s.Create(ctx, bs); err != nil {
			p.mu.Lock()
			p.err = fmt.Errorf("creating BrowserSession %s: %w", bs.Name, err)
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		p.created++
		p.mu.Unlock()
		// Pacing, not a wait for state: more than a second after this create returned, the next
		// one's creationTimestamp is in a later second.
		select {
		case <-time.After(1050 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

// readyCount is how many of the phase's resources are Ready now.
func (p *projectsPhase) readyCount(ctx context.Context) int {
	list := &v1alpha1.BrowserSessionList{}
	if p.k8s.List(ctx, list, client.InNamespace(namespace)) != nil {
		return 0
	}
	n := 0
	for _, bs := range list.Items {
		if phaseOf(bs.Name) == "projects" && meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
			n++
		}
	}
	return n
}

// isProjectRead says whether c is the project check (GET /v1/projects or /v1/projects/{id}),
// answered 200.
func isProjectRead(c keyCall) bool {
	return c.method == http.MethodGet && (c.path == "/v1/projects" || strings.HasPrefix(c.path, "/v1/projects/")) &&
		!strings.HasSuffix(c.path, "/usage") && c.status == http.StatusOK
}

func isCreate(c keyCall) bool { return c.method == http.MethodPost && c.path == "/v1/sessions" }

// first is the arrival of the first call under label at or after since that match says yes to;
// zero for none.
func (p *projectsPhase) first(label string, since time.Time, match func(keyCall) bool) time.Time {
	for _, c := range p.front.callsOf(label) {
		if !c.at.Before(since) && match(c) {
			return c.at
		}
	}
	return time.Time{}
}

// rotate runs the rotation window (see the package comment of the phase, above): the main
// manager is running and is neither killed nor restarted until the window closes. It returns
// how long the window lasted.
func (p *projectsPhase) rotate(ctx context.Context, env *localenv.Env) time.Duration {
	begin := time.Now()
	rot := rotation{done: true}
	defer func() {
		rot.end = time.Now()
		p.mu.Lock()
		p.rot = rot
		p.mu.Unlock()
	}()
	since := p.lastStart()
	// First the running manager must have published the old key, so that the new one reaches a
	// process that uses the old one (after a kill, it takes the lease within a few seconds).
	rot.oldRead, rot.note = within(ctx, 45*time.Second, func(g Gomega) {
		g.Expect(p.first("old", since, isProjectRead).IsZero()).To(BeFalse(), "the running manager read the project with the old key")
	})
	if !rot.oldRead {
		rot.note = "before the rotation: " + rot.note
	}
	pid := env.Manager().PID()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		secret := &corev1.Secret{}
		if err := p.k8s.Get(ctx, types.NamespacedName{Namespace: namespace, Name: projectsObject}, secret); err != nil {
			return err
		}
		secret.Data = map[string][]byte{"apiKey": []byte(projectsRotatedKey)}
		return p.k8s.Update(ctx, secret)
	})
	if err != nil {
		rot.note = "updating the key Secret: " + err.Error()
		return time.Since(begin)
	}
	rot.at = time.Now()
	// The switch, then a create with the new key: the creation window may hold the queue closed
	// for up to a minute (a 429's Retry-After, or the spacing of a low learned limit).
	ok, why := within(ctx, 90*time.Second, func(g Gomega) {
		rot.switched = p.first("new", rot.at, isProjectRead)
		g.Expect(rot.switched.IsZero()).To(BeFalse(), "the manager read the project with the new key")
		bp := &v1alpha1.BrowserbaseProject{}
		g.Expect(p.k8s.Get(ctx, client.ObjectKeyFromObject(p.object()), bp)).To(Succeed())
		rot.readyWith = rot.readyWith || meta.IsStatusConditionTrue(bp.Status.Conditions, v1alpha1.ConditionReady)
		g.Expect(rot.readyWith).To(BeTrue(), "the project is Ready with the new key")
		rot.firstNew = p.first("new", rot.at, isCreate)
		g.Expect(rot.firstNew.IsZero()).To(BeFalse(), "a create was made with the new key")
	})
	if !ok && rot.note == "" {
		rot.note = "after the rotation: " + why
	}
	m := env.Manager()
	rot.samePID = m != nil && m.PID() == pid && syscall.Kill(pid, 0) == nil
	if !rot.samePID && rot.note == "" {
		rot.note = "the manager that read the old key is not the one running now: it exited"
	}
	rot.reached = rot.oldRead && ok && rot.samePID
	return time.Since(begin)
}

// projectsFigures are the phase's own counts, beyond the generic ones.
type projectsFigures struct {
	creates, created, throttled int // creates the emulator answered for the project: all, 201, 429
	firstMinute429              int // 429s within the minute from the first
	maxPerMinute                int // most 429s in a 60 s after the first minute
	maxAllowed                  int // what the bound allowed there
	violations                  []string
	oldCreates, newCreates      int // creates (any answer) made with each key
	staleCreates                int // creates with the old key after the switch and its grace
	readyInversions, pairs      int
	createInversions            int
	maxQueuePos                 int32
	stalled                     []string
	projectNotReady             int // times the project left Ready after it first was
	projectStalled              bool
	// limit is the project's status.createsPerMinuteLimit last seen; minLimit the lowest limit
	// seen, there or in a waiting session's message (the status is written every 15 s, the
	// sessions' when their place changes).
	limit, minLimit int32
}

// figures counts the phase from the emulator, the front door and the watches. The 429 bound:
// within one manager process, the first 429 teaches the creation limit (the creates admitted in
// the last minute less one) and the queue keeps under it, probing again at most once per
// 10 minutes; a create already on its way when the first 429 came back may get one too, so the
// first minute from the first 429 is free. A restart forgets the learned limit (the queue lives
// in the process's memory), and the new process, whose emulator window still holds its
// predecessor's creates, learns again from a 429 of its own within its first minute of
// creates. So after that first minute, every 60 s may hold at most 1 + (manager starts in the
// 75 s before its end: a minute of creates and the ~15 s a new process takes to take the lease
// and let its queue settle) 429s.
func (p *projectsPhase) figures(t *tally) projectsFigures {
	var f projectsFigures
	var throttled []time.Time
	for _, r := range p.emu.Requests() {
		if r.ProjectID != projectsProjectID || r.Kind() != "create" {
			continue
		}
		f.creates++
		switch r.Status {
		case http.StatusCreated:
			f.created++
		case http.StatusTooManyRequests:
			f.throttled++
			throttled = append(throttled, r.Time)
		}
	}
	sort.Slice(throttled, func(i, j int) bool { return throttled[i].Before(throttled[j]) })
	p.mu.Lock()
	starts := append([]time.Time(nil), p.starts...)
	rot := p.rot
	p.mu.Unlock()
	if len(throttled) > 0 {
		firstMinute := throttled[0].Add(time.Minute)
		for i, at := range throttled {
			if at.Before(firstMinute) {
				f.firstMinute429++
				continue
			}
			n := 0
			for _, o := range throttled[:i+1] {
				if at.Sub(o) < time.Minute {
					n++
				}
			}
			restarts := 0
			for _, s := range starts {
				if !s.After(at) && at.Sub(s) < 75*time.Second {
					restarts++
				}
			}
			allowed := 1 + restarts
			if n > f.maxPerMinute {
				f.maxPerMinute, f.maxAllowed = n, allowed
			}
			if n > allowed {
				f.violations = append(f.violations, fmt.Sprintf("%d 429s in the minute to %s, with %d manager starts in the 75 s before",
					n, at.Format(time.StampMilli), restarts))
			}
		}
	}
	for _, c := range p.front.callsOf("old") {
		if !isCreate(c) {
			continue
		}
		f.oldCreates++
		if !rot.switched.IsZero() && c.at.After(rot.switched.Add(projectsStaleKeyGrace)) {
			f.staleCreates++
		}
	}
	for _, c := range p.front.callsOf("new") {
		if isCreate(c) {
			f.newCreates++
		}
	}

	// Orders: by declaration, against the first Ready the watch saw and the first session the
	// emulator made for each resource.
	sessions, _, _ := p.hist.snapshot()
	readyAt := make([]time.Time, projectsCount)
	createdAt := make([]time.Time, projectsCount)
	index := map[string]int{}
	for i := range projectsCount {
		index[projectsName(i)] = i
	}
	for uid, rec := range sessions {
		i, ok := index[rec.name]
		if !ok || rec.namespace != namespace {
			continue
		}
		readyAt[i] = rec.readyAt
		f.maxQueuePos = max(f.maxQueuePos, rec.maxQueuePos)
		if n := int32(rec.minLearned); n > 0 && (f.minLimit == 0 || n < f.minLimit) {
			f.minLimit = n
		}
		if rec.stalled {
			f.stalled = append(f.stalled, rec.name)
		}
		for _, s := range t.sessionsOf[uid] {
			if createdAt[i].IsZero() || s.CreatedAt.Before(createdAt[i]) {
				createdAt[i] = s.CreatedAt
			}
		}
	}
	sort.Strings(f.stalled)
	for i := range projectsCount {
		for j := i + 1; j < projectsCount; j++ {
			if !readyAt[i].IsZero() && !readyAt[j].IsZero() {
				f.pairs++
				if readyAt[j].Before(readyAt[i]) {
					f.readyInversions++
				}
			}
			if !createdAt[i].IsZero() && !createdAt[j].IsZero() && createdAt[j].Before(createdAt[i]) {
				f.createInversions++
			}
		}
	}
	pr := p.hist.projectSnapshot(types.NamespacedName{Namespace: namespace, Name: projectsObject})
	f.projectNotReady, f.projectStalled, f.limit = pr.notReady, pr.stalled, pr.lastLimit
	if pr.minLimit > 0 && (f.minLimit == 0 || pr.minLimit < f.minLimit) {
		f.minLimit = pr.minLimit
	}
	return f
}

// head frames the phase's figures in the summary, before the generic ones.
func (p *projectsPhase) head(t *tally) string {
	f := p.figures(t)
	p.mu.Lock()
	created, rot, starts := p.created, p.rot, len(p.starts)
	p.mu.Unlock()
	rotated := "rotation=none"
	if rot.done {
		rotated = fmt.Sprintf("rotation[reached=%v same_process=%v window=%s switch_after=%s first_new_create_after=%s]",
			rot.reached, rot.samePID, rot.end.Sub(rot.at).Round(100*time.Millisecond),
			since(rot.at, rot.switched), since(rot.at, rot.firstNew))
	}
	return fmt.Sprintf("sessions=%d creates=%d created=%d 429s=%d 429s_first_minute=%d 429s_per_minute_max=%d(allowed %d) "+
		"manager_starts=%d limit=%d min_limit=%d max_queue_position=%d ready_inversions=%d/%d create_inversions=%d "+
		"old_key_creates=%d new_key_creates=%d stale_key_creates=%d project_left_ready=%d stalled=%d %s",
		created, f.creates, f.created, f.throttled, f.firstMinute429, f.maxPerMinute, f.maxAllowed,
		starts, f.limit, f.minLimit, f.maxQueuePos, f.readyInversions, f.pairs, f.createInversions,
		f.oldCreates, f.newCreates, f.staleCreates, f.projectNotReady, len(f.stalled), rotated)
}

func since(from, to time.Time) string {
	if from.IsZero() || to.IsZero() {
		return "-"
	}
	return to.Sub(from).Round(100 * time.Millisecond).String()
}

// settledProblems lists what is wrong with the phase's end state (its sessions' health is
// run.unhealthy's): the project Ready and not Stalled, no session Stalled.
func (p *projectsPhase) settledProblems(ctx context.Context, t *tally) []string {
	p.mu.Lock()
	finished, err, created := p.finished, p.err, p.created
	p.mu.Unlock()
	if err != nil {
		return []string{err.Error()}
	}
	if !finished || created != projectsCount {
		return []string{fmt.Sprintf("%d of %d BrowserSessions created, finished %v", created, projectsCount, finished)}
	}
	var out []string
	bp := &v1alpha1.BrowserbaseProject{}
	if err := p.k8s.Get(ctx, client.ObjectKeyFromObject(p.object()), bp); err != nil {
		return []string{"reading the project: " + err.Error()}
	}
	if !meta.IsStatusConditionTrue(bp.Status.Conditions, v1alpha1.ConditionReady) {
		out = append(out, "the project is not Ready")
	}
	if meta.IsStatusConditionTrue(bp.Status.Conditions, v1alpha1.ConditionStalled) {
		out = append(out, "the project is Stalled")
	}
	n := 0
	for _, bs := range t.existing {
		if phaseOf(bs.Name) != "projects" {
			continue
		}
		n++
		if meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionStalled) {
			out = append(out, bs.Name+" is Stalled")
		}
	}
	if n != projectsCount {
		out = append(out, fmt.Sprintf("%d of %d BrowserSessions exist", n, projectsCount))
	}
	sort.Strings(out)
	return out
}

// problems lists what the phase did wrong over the run: the rotation, the keys the creates
// used, the 429s against their bound, and anything seen Stalled.
func (p *projectsPhase) problems(ctx context.Context, t *tally) []string {
	out := p.settledProblems(ctx, t)
	f := p.figures(t)
	p.mu.Lock()
	rot := p.rot
	p.mu.Unlock()
	switch {
	case !rot.done:
		out = append(out, "the key was not rotated")
	case !rot.reached:
		out = append(out, "the rotation: "+rot.note)
	}
	if f.staleCreates > 0 {
		out = append(out, fmt.Sprintf("%d creates used the old key more than %s after the manager read the new one", f.staleCreates, projectsStaleKeyGrace))
	}
	if f.newCreates == 0 {
		out = append(out, "no create used the new key")
	}
	if f.minLimit > 0 && f.minLimit < projectsMinLearnedLimit {
		// A manager that starts while the project's window is full of its predecessor's creates
		// gets a 429 at once, and learns its own few admissions less one as the limit.
		out = append(out, fmt.Sprintf("the queue learned a creation limit of %d a minute, "+
			"below %d, for a project that allows %d: its waiters are admitted that slowly until the learned limit is forgotten (10 minutes without a 429)",
			f.minLimit, projectsMinLearnedLimit, projectsCreatesPerMinute))
	}
	if f.throttled == 0 {
		out = append(out, "no 429: the creation limit was never reached, so the suite did not test learning it")
	}
	out = append(out, f.violations...)
	for _, name := range f.stalled {
		out = append(out, name+" was Stalled during the run")
	}
	if f.projectStalled {
		out = append(out, "the project was Stalled during the run")
	}
	return out
}

// diagnose tells what the project, its waiting sessions and the emulator show, for a failed run:
// the manager starts, the rotation, every create of the project, and each resource not Ready.
func (p *projectsPhase) diagnose(ctx context.Context) []string {
	var out []string
	p.mu.Lock()
	starts := append([]time.Time(nil), p.starts...)
	rot := p.rot
	p.mu.Unlock()
	stamp := func(t time.Time) string { return t.Format("15:04:05.000") }
	var s []string
	for _, t := range starts {
		s = append(s, stamp(t))
	}
	out = append(out, "projects: manager starts "+strings.Join(s, " "))
	out = append(out, fmt.Sprintf("projects: rotation at %s switched %s first new-key create %s window closed %s: %s",
		stamp(rot.at), stamp(rot.switched), stamp(rot.firstNew), stamp(rot.end), rot.note))
	s = nil
	for _, r := range p.emu.Requests() {
		if r.ProjectID == projectsProjectID && r.Kind() == "create" {
			s = append(s, fmt.Sprintf("%s:%d", stamp(r.Time), r.Status))
		}
	}
	out = append(out, "projects: creates "+strings.Join(s, " "))
	bp := &v1alpha1.BrowserbaseProject{}
	if err := p.k8s.Get(ctx, client.ObjectKeyFromObject(p.object()), bp); err == nil {
		out = append(out, fmt.Sprintf("projects: project status limit=%d waiting=%d running=%d createsLastMinute=%d conditions=%s",
			bp.Status.CreatesPerMinuteLimit, bp.Status.SessionsWaiting, bp.Status.SessionsRunning, bp.Status.CreatesLastMinute,
			conditionsOf(bp.Status.Conditions)))
	}
	list := &v1alpha1.BrowserSessionList{}
	if err := p.k8s.List(ctx, list, client.InNamespace(namespace)); err == nil {
		for _, bs := range list.Items {
			if phaseOf(bs.Name) != "projects" || meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
				continue
			}
			estimate := "-"
			if e := bs.Status.QueueEstimate; e != nil {
				estimate = stamp(e.Time)
			}
			out = append(out, fmt.Sprintf("projects: %s position=%d estimate=%s conditions=%s",
				bs.Name, bs.Status.QueuePosition, estimate, conditionsOf(bs.Status.Conditions)))
		}
	}
	return out
}

func conditionsOf(cs []metav1.Condition) string {
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("%s=%s(%s: %s; since %s)", c.Type, c.Status, c.Reason, c.Message, c.LastTransitionTime.Format("15:04:05")))
	}
	return "[" + strings.Join(s, " ") + "]"
}
