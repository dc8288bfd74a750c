// Package faults is the fault-injection suite: many BrowserSessions at once, the manager binary
// killed with SIGKILL at random moments, and an emulator that answers slowly, with 5xx, with
// concurrency and creation-rate 429s, and with creates that commit and then fail or drop the
// answer. Beside the plain sessions (phase main) run sessions renewed when they end (onend),
// sessions that renew into a persisted BrowserContext (persist), BrowserContexts created and
// deleted (contexts), 100 Pods that opt in to a session through the webhook and the Pod
// controller and come and go (pods, pods_test.go), 36 sessions that name a BrowserbaseProject
// whose creation limit the queue learns from 429s and whose key is rotated midway (projects,
// projects_test.go), and, once the chaos is over, three aimed scenarios: a delete right after
// the predecessor expired while its successor's create is unfinished (expiry), a switch to
// renewal policy Never at that moment (never), and a stale manager that resumes after another
// took over (stale). Every figure is counted from the emulator and the API server, never from
// the operator's log (count_test.go says how), and each phase reports its own in the summary.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

// One API key, so one emulator project, per phase: the phases' creates do not queue behind each
// other's limits, the front door aims a fault at one phase, and contexts (which carry no tag) are
// counted by project.
const (
	defaultKey  = "bb_faults_default_key_0123456789"
	limitedKey  = "bb_faults_limited_key_0123456789"
	renewKey    = "bb_faults_renewing_key_012345678"
	onEndKey    = "bb_faults_onend_key_0123456789ab"
	persistKey  = "bb_faults_persist_key_0123456789"
	contextsKey = "bb_faults_contexts_key_012345678"
	expiryKey   = "bb_faults_expiry_key_0123456789a"
	neverKey    = "bb_faults_never_key_0123456789ab"
	staleKey    = "bb_faults_stale_key_0123456789ab"

	namespace = "faults"
	// staleNamespace is the stale phase's: only its own two managers watch it.
	staleNamespace = "faults-stale"

	onEndCount   = 8
	persistCount = 3
)

// keySecrets are the API-key Secrets, by name, in namespace (stale's is in staleNamespace).
var keySecrets = map[string]string{
	"limited": limitedKey, "renewing": renewKey, "onend": onEndKey, "persist": persistKey,
	"contexts": contextsKey, "expiry": expiryKey, "never": neverKey, "pods": podsKey,
	projectsObject: projectsKey,
}

func TestFaults(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fault-injection Suite")
}

var _ = Describe("Under faults and crashes", func() {
	It("leaks nothing and duplicates nothing", func(ctx SpecContext) {
		seed := uint64(time.Now().UnixNano())
		rng := rand.New(rand.NewPCG(seed, 0))
		GinkgoWriter.Printf("seed %d\n", seed)

		By("starting the control plane, the emulator and the manager")
		repo, err := filepath.Abs(filepath.Join("..", ".."))
		Expect(err).NotTo(HaveOccurred())
		assets, err := localenv.AssetsDir(ctx, repo)
		Expect(err).NotTo(HaveOccurred())
		workDir := GinkgoT().TempDir()
		emu := emulator.New()
		// Enough concurrency for the default key; creation-rate 429s while 110 resources start.
		emu.AddKey(defaultKey, emulator.Project{ID: "faults-default", Concurrency: 500, CreatesPerMinute: 60})
		// Fewer slots than resources: some wait on concurrency 429s until deletions free slots.
		emu.AddKey(limitedKey, emulator.Project{ID: "faults-limited", Concurrency: 20})
		// The renewing resources' own project, so that their renewals are not queued behind the
		// others' creation-rate 429s.
		emu.AddKey(renewKey, emulator.Project{ID: "faults-renewing", Concurrency: 100})
		for key, project := range map[string]string{
			onEndKey: "faults-onend", persistKey: "faults-persist", contextsKey: "faults-contexts",
			expiryKey: "faults-expiry", neverKey: "faults-never", staleKey: "faults-stale", podsKey: "faults-pods",
		} {
			emu.AddKey(key, emulator.Project{ID: project, Concurrency: 100})
		}
		emu.SetConcurrencyRetryAfter(3 * time.Second)
		// The projects phase's two keys (the second for the rotation), of one project whose
		// creation limit the queue must learn.
		projects := &projectsPhase{emu: emu}
		// As the real API allows: a get without the connect URL and signing key, which only the
		// create answer then carries.
		emu.SetGetReturnsConnect(false)
		front := newFrontDoor(emu)
		projects.front = front
		projects.addKeys()
		server := httptest.NewServer(front)
		DeferCleanup(server.Close)
		managerLog, err := os.Create(filepath.Join(workDir, "manager.log"))
		Expect(err).NotTo(HaveOccurred())
		managerArgs := []string{
			"--session-poll-interval=3s", "--credentials-recheck-interval=2s",
			"--creates-per-minute=300", "--max-concurrent-reconciles=8",
			"--sweep-interval=20s",
		}
		env, err := localenv.Start(ctx, localenv.Options{
			RepoRoot: repo, AssetsDir: assets, WorkDir: workDir,
			BrowserbaseURL: server.URL, APIKey: defaultKey, ManagerOutput: managerLog,
			// The main manager serves the Pod webhook (pods phase); the stale phase's managers do not.
			Webhook: true,
			ManagerArgs: append([]string{
				"--browserbase-timeout=5s", "--create-grace-period=5s",
				"--leader-election-lease-duration=4s", "--leader-election-renew-deadline=3s", "--leader-election-retry-period=1s",
				// The stale phase's namespace is its own managers'.
				"--watch-namespaces=" + namespace,
			}, managerArgs...),
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = env.Stop() })
		Expect(env.StartManager()).To(Succeed())
		projects.started(time.Now())

		scheme := runtime.NewScheme()
		Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
		Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
		k8s, err := client.NewWithWatch(env.AdminConfig, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		hist := newHistory()
		watchCtx, stopWatching := context.WithCancel(context.Background())
		DeferCleanup(stopWatching)
		hist.start(watchCtx, k8s)
		projects.k8s, projects.hist = k8s, hist
		for _, ns := range []string{namespace, staleNamespace} {
			Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		}
		for name, key := range keySecrets {
			Expect(k8s.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, StringData: map[string]string{"apiKey": key},
			})).To(Succeed())
		}
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: staleNamespace, Name: "stale"}, StringData: map[string]string{"apiKey": staleKey},
		})).To(Succeed())
		pods := newPodsPhase(k8s, seed)
		Expect(k8s.Create(ctx, pods.template())).To(Succeed())
		Expect(k8s.Create(ctx, projects.object())).To(Succeed())

		r := &run{
			k8s: k8s, emu: emu, front: front, env: env, workDir: workDir, url: server.URL, managerArgs: managerArgs,
		}
		DeferCleanup(r.stopAll)
		counter := &counter{k8s: k8s, emu: emu, front: front, hist: hist}

		// Lost create answers whose sessions Browserbase commits up to 3 s later (within the 5 s call
		// timeout), and a session list that lags 1 s behind.
		faults := emulator.Faults{
			Latency: 100 * time.Millisecond, ErrorRate: 0.05, CreateCommitThenFail: 5, CreateCommitThenDrop: 5,
			CommitLate: 3 * time.Second, ListLag: time.Second,
		}
		emu.SetFaults(faults)

		deleted := map[string]bool{}
		renewing := func(renewBefore string) *v1alpha1.Renewal {
			d, err := time.ParseDuration(renewBefore)
			Expect(err).NotTo(HaveOccurred())
			return &v1alpha1.Renewal{
				Policy: v1alpha1.RenewalBeforeExpiry, RenewBefore: &metav1.Duration{Duration: d}, Overlap: &metav1.Duration{Duration: 5 * time.Second},
			}
		}
		onEnd := &v1alpha1.Renewal{Policy: v1alpha1.RenewalOnEnd}

		By("creating the phases' resources: 10 renewed every 20 s, 8 renewed when they end, 3 renewed into persisted contexts, 6 contexts, 100 plain sessions")
		// The manager that goes stale watches its own namespace from the start, and brings its
		// resource up under the chaos's faults.
		r.staleA = r.startStandalone("stale-a", "--browserbase-timeout=30s", "--create-grace-period=30s")
		Expect(r.createSession(ctx, staleNamespace, "stale-00", "stale", 600, onEnd, nil)).To(Succeed())
		// First the renewing ones, so that their sessions come before the creation-rate limit
		// queues the rest: hour-long sessions renewed 3580 s before they expire, a rotation
		// every 20 s while the manager is killed around it. After the chaos renewBefore goes to
		// 10m, so that the end state is still.
		for i := range 10 {
			Expect(r.createSession(ctx, namespace, fmt.Sprintf("r-%02d", i), "renewing", 3600, renewing("3580s"), nil)).To(Succeed())
		}
		// Renewed when they end: by their 60 s timeout, and by the chaos, which ends one at
		// every kill (as if its timeout elapsed).
		for i := range onEndCount {
			Expect(r.createSession(ctx, namespace, fmt.Sprintf("o-%02d", i), "onend", 60, onEnd, nil)).To(Succeed())
		}
		// Renewed every 25 s into their own persisted context: the predecessor is released and
		// its state saved before the successor is made.
		for i := range persistCount {
			Expect(r.createContext(ctx, fmt.Sprintf("pc-%d", i), "persist")).To(Succeed())
			settings := &v1alpha1.BrowserSettings{Context: &v1alpha1.ContextReference{Name: fmt.Sprintf("pc-%d", i), Persist: ptr(true)}}
			Expect(r.createSession(ctx, namespace, fmt.Sprintf("p-%d", i), "persist", 3600, renewing("3575s"), settings)).To(Succeed())
		}
		var contextsToDelete []string
		for i := range 6 {
			name := fmt.Sprintf("c-%02d", i)
			Expect(r.createContext(ctx, name, "contexts")).To(Succeed())
			contextsToDelete = append(contextsToDelete, name)
		}
		rng.Shuffle(len(contextsToDelete), func(i, j int) {
			contextsToDelete[i], contextsToDelete[j] = contextsToDelete[j], contextsToDelete[i]
		})
		contextsToDelete = contextsToDelete[:4]
		// The aimed phases' resources, brought up now. x-00's session ends by its own 60 s
		// timeout, so its phase runs beside the chaos; the others' faults come after it.
		Expect(r.createSession(ctx, namespace, "x-00", "expiry", 60, onEnd, nil)).To(Succeed())
		Expect(r.createSession(ctx, namespace, "n-00", "never", 600, onEnd, nil)).To(Succeed())
		for i := range 100 {
			key := ""
			if i%10 < 3 {
				key = "limited"
			}
			Expect(r.createSession(ctx, namespace, fmt.Sprintf("s-%03d", i), key, 3600, nil, nil)).To(Succeed())
		}

		var phases sync.WaitGroup
		resultsCh := make(chan phaseResult, 3)
		runPhase := func(phase func(context.Context) phaseResult) {
			phases.Go(func() {
				defer GinkgoRecover()
				resultsCh <- phase(ctx)
			})
		}
		// If a wait below fails, the phases end (with the spec's context) before the cleanup.
		DeferCleanup(phases.Wait)
		runPhase(r.expiryPhase)

		kills, forcedEnds := 0, 0
		chaos := 45 * time.Second
		if d, err := time.ParseDuration(os.Getenv("FAULTS_DURATION")); err == nil {
			chaos = d
		}
		var results []phaseResult
		summarize := func(t *tally) string {
			replaced := 0
			events := &eventsv1.EventList{}
			if k8s.List(context.Background(), events, client.InNamespace(namespace)) == nil {
				for _, e := range events.Items {
					if e.Reason == "SessionReplaced" {
						replaced++
					}
				}
			}
			total := t.total
			line := fmt.Sprintf("faults summary: seed=%d chaos=%s commit_late=%s list_lag=%s get_connect=false kills=%d forced_ends=%d "+
				"resources=%d existing=%d deleted=%d sessions_created=%d lost_answers=%d replaced=%d renewed=%d "+
				"duplicates=%d leaked=%d wasted_creates=%d regressions=%d untagged=%d releases=%d requests[%s]",
				seed, chaos, faults.CommitLate, faults.ListLag, kills, forcedEnds,
				total.resources, total.existing, len(deleted), total.sessions, t.lostAnswers, replaced, total.renewed,
				total.duplicates, total.leaked, total.wasted, total.regressions, t.orphans, t.releases, strings.Join(t.requests, " "))
			for _, p := range phaseOrder {
				if p == "pods" {
					line += fmt.Sprintf(" | phase=%s %s %s %s", p, pods.head(), t.phase(p), pods.tail(t))
					continue
				}
				if p == "projects" {
					line += fmt.Sprintf(" | phase=%s %s %s", p, projects.head(t), t.phase(p))
					continue
				}
				line += fmt.Sprintf(" | phase=%s %s", p, t.phase(p))
				for _, res := range results {
					if res.name == p {
						line += " " + res.String()
					}
				}
			}
			return line
		}
		printed := false
		DeferCleanup(func() {
			if !CurrentSpecReport().Failed() {
				return
			}
			// The managers' logs outlive the run's temporary directory, for a look at what happened.
			if dir := os.Getenv("FAULTS_ARTIFACTS"); dir != "" {
				for _, name := range []string{"manager", "stale-a", "stale-b"} {
					if raw, err := os.ReadFile(filepath.Join(workDir, name+".log")); err == nil {
						_ = os.WriteFile(filepath.Join(dir, "faults-"+name+".log"), raw, 0o644)
					}
				}
			}
			if !printed {
				if t, err := counter.count(context.Background()); err == nil {
					fmt.Println(summarize(t))
				}
			}
			for _, line := range projects.diagnose(context.Background()) {
				fmt.Println(line)
			}
		})

		// expireOnEnd ends the session of a random onend resource, as its timeout would.
		expireOnEnd := func() {
			bs := &v1alpha1.BrowserSession{}
			key := types.NamespacedName{Namespace: namespace, Name: fmt.Sprintf("o-%02d", rng.IntN(onEndCount))}
			if k8s.Get(ctx, key, bs) == nil && bs.Status.ID != "" && emu.ExpireSession(bs.Status.ID) {
				forcedEnds++
			}
		}

		By("killing the manager at random moments while deleting and adding sessions, contexts and Pods, and ending sessions and Pods")
		chaosEnd := time.Now().Add(chaos)
		// The Pods come and go over both chaos loops, beside the kills, the last ones created 20 s
		// before the kills stop, so that their ends (within 15 s) come under kills too. A create
		// the webhook refuses while the manager is down is retried.
		renewalChaos := max(chaos, 40*time.Second)
		podsDone := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(podsDone)
			pods.run(ctx, chaos+renewalChaos-20*time.Second)
		}()
		DeferCleanup(func() { <-podsDone })
		// The projects phase's sessions, one a second from now, in declaration order.
		projectsDone := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(projectsDone)
			projects.run(ctx)
		}()
		DeferCleanup(func() { <-projectsDone })
		// restart restarts the manager killed a moment ago.
		restart := func() {
			Expect(env.StartManager()).To(Succeed())
			projects.started(time.Now())
		}
		// The key rotation's window without kills: once a third of the projects phase's sessions
		// are Ready (so that most of its creates come after it), or at the latest when this loop
		// ends. The window is added to this loop, so its kills are not cut short.
		rotated := false
		rotate := func() time.Duration {
			rotated = true
			By("rotating the projects phase's key, with no kill until the running manager uses the new one")
			return projects.rotate(ctx, env)
		}
		var limitedToDelete, defaultToDelete []string
		for i := range 100 {
			if i%10 < 3 {
				limitedToDelete = append(limitedToDelete, fmt.Sprintf("s-%03d", i))
			} else {
				defaultToDelete = append(defaultToDelete, fmt.Sprintf("s-%03d", i))
			}
		}
		rng.Shuffle(len(limitedToDelete), func(i, j int) { limitedToDelete[i], limitedToDelete[j] = limitedToDelete[j], limitedToDelete[i] })
		rng.Shuffle(len(defaultToDelete), func(i, j int) { defaultToDelete[i], defaultToDelete[j] = defaultToDelete[j], defaultToDelete[i] })
		toDelete := append(limitedToDelete[:12], defaultToDelete[:20]...)
		rng.Shuffle(len(toDelete), func(i, j int) { toDelete[i], toDelete[j] = toDelete[j], toDelete[i] })
		added, contextsAdded := 0, 0
		for time.Now().Before(chaosEnd) {
			if !rotated && projects.readyCount(ctx) >= projectsCount/3 {
				chaosEnd = chaosEnd.Add(rotate())
			}
			time.Sleep(time.Duration(2000+rng.IntN(4000)) * time.Millisecond) // a random moment, not a wait for state
			env.KillManager()
			kills++
			for range 3 {
				if len(toDelete) > 0 {
					name := toDelete[0]
					toDelete = toDelete[1:]
					Expect(client.IgnoreNotFound(k8s.Delete(ctx, &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}))).To(Succeed())
					deleted[name] = true
				}
			}
			if added < 10 {
				Expect(r.createSession(ctx, namespace, fmt.Sprintf("late-%02d", added), "", 3600, nil, nil)).To(Succeed())
				added++
			}
			if len(contextsToDelete) > 0 {
				Expect(k8s.Delete(ctx, &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: contextsToDelete[0]}})).To(Succeed())
				contextsToDelete = contextsToDelete[1:]
			}
			if contextsAdded < 4 {
				Expect(r.createContext(ctx, fmt.Sprintf("c-late-%02d", contextsAdded), "contexts")).To(Succeed())
				contextsAdded++
			}
			expireOnEnd()
			restart()
		}
		if !rotated {
			rotate()
		}
		for _, name := range toDelete {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}))).To(Succeed())
			deleted[name] = true
		}
		for _, name := range contextsToDelete {
			Expect(k8s.Delete(ctx, &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}})).To(Succeed())
		}

		// The kills above come faster than a manager takes over the lease, so the renewing
		// resources, due every 20 s, are rarely reached. Now that the backlog of creates is done,
		// kills come every 6 to 10 s, with the same faults, for the renewals to be interrupted at
		// every step of a rotation.
		By("renewing under kills")
		renewalChaosEnd := time.Now().Add(renewalChaos)
		for time.Now().Before(renewalChaosEnd) {
			time.Sleep(time.Duration(6000+rng.IntN(4000)) * time.Millisecond)
			env.KillManager()
			kills++
			expireOnEnd()
			restart()
		}

		By("letting it settle without faults, renewals put off, while the aimed phases run")
		// The Pods are created and ended by now but for the creates the last kills refused.
		Eventually(podsDone, 2*time.Minute).Should(BeClosed())
		Eventually(projectsDone, time.Minute).Should(BeClosed())
		emu.SetFaults(emulator.Faults{})
		for _, name := range []string{"r-%02d", "p-%d"} {
			n := 10
			if name == "p-%d" {
				n = persistCount
			}
			for i := range n {
				bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf(name, i)}}
				Expect(k8s.Get(ctx, client.ObjectKeyFromObject(bs), bs)).To(Succeed())
				patch := client.MergeFrom(bs.DeepCopy())
				bs.Spec.Renewal = renewing("10m")
				Expect(k8s.Patch(ctx, bs, patch)).To(Succeed())
			}
		}
		runPhase(r.neverPhase)
		runPhase(r.stalePhase)
		Eventually(func(g Gomega) {
			list := &v1alpha1.BrowserSessionList{}
			g.Expect(k8s.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
			main, notReady := 0, []string{}
			for _, bs := range list.Items {
				if phaseOf(bs.Name) == "main" {
					main++
				}
				// The projects phase's sessions may wait in their queue behind a creation limit; they
				// are waited for below, with the counts, so that a queue that admits too slowly is
				// reported as such, beside the other phases' figures.
				if chaosPhase(bs.Name) && phaseOf(bs.Name) != "projects" && !meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
					notReady = append(notReady, bs.Name)
				}
			}
			g.Expect(main).To(Equal(120-len(deleted)), "deleted resources are gone")
			g.Expect(notReady).To(BeEmpty(), "every remaining resource of the chaos phases is Ready")
		}, 4*time.Minute, time.Second).Should(Succeed())

		phases.Wait()
		close(resultsCh)
		for res := range resultsCh {
			GinkgoWriter.Printf("phase %s: %s %s\n", res.name, res, res.note)
			results = append(results, res)
		}

		By("waiting for the sweeps to release what late commits left (every 20 s per resource), and counting")
		// The chaos phases must come to a clean end: no duplicate, no leak, no stuck context, each
		// resource Ready on a running session whose credentials its Secret holds. The aimed phases
		// have had their own wait; their figures are what they are.
		var final *tally
		settled, why := within(ctx, 2*time.Minute, func(g Gomega) {
			t, err := counter.count(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			final = t
			for _, p := range []string{"main", "onend", "persist", "contexts", "pods", "projects"} {
				f := t.phase(p)
				g.Expect(f.duplicates+f.leaked+f.regressions+f.sharedContext+f.contextsLeaked+f.contextsStuck).To(BeZero(), "phase %s: %s", p, f)
			}
			g.Expect(r.unhealthy(ctx, t)).To(BeEmpty())
			g.Expect(pods.check(ctx, r, t)).To(BeEmpty(), "phase pods")
			g.Expect(projects.settledProblems(ctx, t)).To(BeEmpty(), "phase projects")
		})
		summary := summarize(final)
		fmt.Println(summary)
		printed = true
		AddReportEntry("summary", summary)
		for _, d := range final.diagnosis {
			GinkgoWriter.Println(d)
			name := strings.SplitN(d, " ", 2)[0]
			for _, line := range readManagerLogs(workDir) {
				if ref, _ := line["BrowserSession"].(map[string]any); ref != nil && ref["name"] == name {
					GinkgoWriter.Printf("  log %s %v %v %v\n", line["ts"], line["msg"], line["sessionID"], line["why"])
				}
			}
		}

		var problems []string
		if !settled {
			problems = append(problems, "the chaos phases did not come to a clean end: "+why)
		}
		for _, p := range phaseOrder {
			f := final.phase(p)
			if f.duplicates > 0 || f.leaked > 0 || f.regressions > 0 || f.sharedContext > 0 || f.contextsLeaked > 0 || f.contextsStuck > 0 {
				problems = append(problems, fmt.Sprintf("phase %s: %s", p, f))
			}
		}
		for _, problem := range pods.check(ctx, r, final) {
			problems = append(problems, "phase pods: "+problem)
		}
		for _, problem := range projects.problems(ctx, final) {
			problems = append(problems, "phase projects: "+problem)
		}
		for _, res := range results {
			if !res.reached || !res.settled {
				problems = append(problems, fmt.Sprintf("phase %s: %s: %s", res.name, res, res.note))
			}
		}
		for _, p := range []string{"main", "onend", "persist"} {
			if final.phase(p).renewed == 0 {
				problems = append(problems, fmt.Sprintf("phase %s: no renewal happened, so the suite did not test one", p))
			}
		}
		if final.orphans > 0 {
			problems = append(problems, fmt.Sprintf("%d sessions are tagged with no resource of the suite", final.orphans))
		}
		Expect(problems).To(BeEmpty())
	}, NodeTimeout(60*time.Minute))
})

// chaosPhase reports whether a resource belongs to a phase run under the chaos, which must end
// with every resource Ready.
func chaosPhase(name string) bool {
	switch phaseOf(name) {
	case "main", "onend", "persist", "contexts", "projects":
		return true
	}
	return false
}

// within polls f like Eventually, but reports the outcome (and the last failure) instead of
// failing the spec: a phase that finds a bug leaves the others to run and the summary to print.
func within(ctx context.Context, timeout time.Duration, f func(g Gomega)) (ok bool, lastFailure string) {
	g := NewGomega(func(message string, _ ...int) { lastFailure = message })
	ok = g.Eventually(ctx, f).WithTimeout(timeout).WithPolling(500 * time.Millisecond).Should(Succeed())
	return ok, lastFailure
}

func ptr[T any](v T) *T { return &v }

// readManagerLogs parses the JSON log lines of every manager of the run; other lines are
// skipped. For diagnosis only: nothing is counted from them.
func readManagerLogs(workDir string) []map[string]any {
	var out []map[string]any
	for _, name := range []string{"manager", "stale-a", "stale-b"} {
		raw, err := os.ReadFile(filepath.Join(workDir, name+".log"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(raw), "\n") {
			line := map[string]any{}
			if json.Unmarshal([]byte(l), &line) == nil {
				out = append(out, line)
			}
		}
	}
	return out
}
