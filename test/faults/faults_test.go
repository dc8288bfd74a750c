// Package faults is the fault-injection suite: many BrowserSessions at once, the manager binary
// killed with SIGKILL at random moments, and an emulator that answers slowly, with 5xx, with
// concurrency and creation-rate 429s, and with creates that commit and then fail or drop the
// answer. At the end, every resource that exists has exactly one session, every deleted one's
// session is released, and no session runs without an owner.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
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

const (
	defaultKey = "bb_faults_default_key_0123456789"
	limitedKey = "bb_faults_limited_key_0123456789"
	renewKey   = "bb_faults_renewing_key_012345678"
	namespace  = "faults"
)

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
		emu.SetConcurrencyRetryAfter(3 * time.Second)
		// As the real API allows: a get without the connect URL and signing key, which only the
		// create answer then carries.
		emu.SetGetReturnsConnect(false)
		server := httptest.NewServer(emu)
		DeferCleanup(server.Close)
		managerLog, err := os.Create(filepath.Join(workDir, "manager.log"))
		Expect(err).NotTo(HaveOccurred())
		env, err := localenv.Start(ctx, localenv.Options{
			RepoRoot: repo, AssetsDir: assets, WorkDir: workDir,
			BrowserbaseURL: server.URL, APIKey: defaultKey, ManagerOutput: managerLog,
			ManagerArgs: []string{
				"--session-poll-interval=3s", "--create-grace-period=5s", "--credentials-recheck-interval=2s",
				"--creates-per-minute=300", "--create-burst=20", "--max-concurrent-reconciles=8",
				"--browserbase-timeout=5s", "--sweep-interval=20s",
				"--leader-election-lease-duration=4s", "--leader-election-renew-deadline=3s", "--leader-election-retry-period=1s",
			},
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = env.Stop() })
		Expect(env.StartManager()).To(Succeed())

		scheme := runtime.NewScheme()
		Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
		Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
		k8s, err := client.New(env.AdminConfig, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "limited"},
			StringData: map[string]string{"apiKey": limitedKey},
		})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "renewing"},
			StringData: map[string]string{"apiKey": renewKey},
		})).To(Succeed())

		// Lost create answers whose sessions Browserbase commits up to 3 s later (within the 5 s call
		// timeout), and a session list that lags 1 s behind.
		faults := emulator.Faults{
			Latency: 100 * time.Millisecond, ErrorRate: 0.05, CreateCommitThenFail: 5, CreateCommitThenDrop: 5,
			CommitLate: 3 * time.Second, ListLag: time.Second,
		}
		emu.SetFaults(faults)

		var mu sync.Mutex
		uids := map[types.UID]string{} // every resource ever created, by UID
		deleted := map[string]bool{}
		create := func(name string, limited bool, renewal *v1alpha1.Renewal) {
			defer GinkgoRecover()
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
			bs.Spec.Timeout = ptr(int32(3600))
			if limited {
				bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: "limited"}
			}
			bs.Spec.Renewal = renewal
			if renewal != nil {
				bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: "renewing"}
			}
			Expect(k8s.Create(ctx, bs)).To(Succeed())
			mu.Lock()
			uids[bs.UID] = name
			mu.Unlock()
		}

		By("creating 100 BrowserSessions, 30 of them on a key with 20 concurrent slots, and 10 renewed every 20 s")
		// First, so that their sessions come before the creation-rate limit queues the rest: hour-long
		// sessions renewed 3580 s before they expire, a rotation every 20 s while the
		// manager is killed around it. After the chaos renewBefore goes to 10m, so that the end
		// state is still.
		renewing := func(renewBefore string) *v1alpha1.Renewal {
			d, err := time.ParseDuration(renewBefore)
			Expect(err).NotTo(HaveOccurred())
			return &v1alpha1.Renewal{
				Policy: v1alpha1.RenewalBeforeExpiry, RenewBefore: &metav1.Duration{Duration: d}, Overlap: &metav1.Duration{Duration: 5 * time.Second},
			}
		}
		for i := range 10 {
			create(fmt.Sprintf("r-%02d", i), false, renewing("3580s"))
		}
		for i := range 100 {
			create(fmt.Sprintf("s-%03d", i), i%10 < 3, nil)
		}

		kills := 0
		chaos := 45 * time.Second
		if d, err := time.ParseDuration(os.Getenv("FAULTS_DURATION")); err == nil {
			chaos = d
		}
		// summarize counts sessions against resources, and requests by kind and status.
		summarize := func() (summary string, duplicates, leaked, orphans int) {
			list := &v1alpha1.BrowserSessionList{}
			Expect(k8s.List(context.Background(), list, client.InNamespace(namespace))).To(Succeed())
			existing := map[types.UID]v1alpha1.BrowserSession{}
			for _, bs := range list.Items {
				existing[bs.UID] = bs
			}
			created := map[types.UID]int{}
			unusable := map[types.UID]int{} // sessions whose connect details only a lost answer carried
			live := map[types.UID][]string{}
			for _, s := range emu.Sessions() {
				tag, _ := s.UserMetadata["k8s"].(map[string]any)
				uid := types.UID(fmt.Sprint(tag["uid"]))
				mu.Lock()
				_, ours := uids[uid]
				mu.Unlock()
				if !ours {
					orphans++
					continue
				}
				created[uid]++
				if s.Status == "RUNNING" || s.Status == "PENDING" {
					live[uid] = append(live[uid], s.ID)
				}
			}
			// Not duplicates: a session no workload could use, which the operator releases before
			// it makes another. Its create answer was lost (Browserbase's get does not return the
			// connect details), or reached a manager that was killed before it wrote them anywhere
			// (released after an unfinished create, or replaced with a SessionReplaced event). The
			// manager logs each such release, with its reason, before the call, so a SIGKILL that
			// loses the event (sent after the fact) leaves the log line. Nor a renewal's successor:
			// status.revision counts the sessions a resource has had. Every release is checked by
			// the leak count.
			releasedUnusable := map[string]bool{}
			managerLines := readManagerLog(filepath.Join(workDir, "manager.log"))
			for _, line := range managerLines {
				if why, _ := line["why"].(string); strings.Contains(why, "not usable") {
					if id, ok := line["sessionID"].(string); ok {
						releasedUnusable[id] = true
					}
				}
			}
			replaced := 0
			events := &eventsv1.EventList{}
			Expect(k8s.List(context.Background(), events, client.InNamespace(namespace))).To(Succeed())
			for _, e := range events.Items {
				if e.Reason == "SessionReplaced" {
					replaced++
				}
			}
			for _, s := range emu.Sessions() {
				if s.AnswerLost || releasedUnusable[s.ID] {
					tag, _ := s.UserMetadata["k8s"].(map[string]any)
					unusable[types.UID(fmt.Sprint(tag["uid"]))]++
				}
			}
			renewed := 0
			for uid, n := range created {
				renewals := 0
				if bs, ok := existing[uid]; ok && bs.Status.Revision > 1 {
					renewals = int(bs.Status.Revision - 1)
				}
				renewed += renewals
				if extra := max(n-1-unusable[uid]-renewals, 0); extra > 0 {
					duplicates += extra
					GinkgoWriter.Printf("%s: %d sessions, %d unusable, %d renewals\n", uids[uid], n, unusable[uid], renewals)
					for _, s := range emu.Sessions() {
						if tag, _ := s.UserMetadata["k8s"].(map[string]any); fmt.Sprint(tag["uid"]) == string(uid) {
							GinkgoWriter.Printf("  session %s attempt %v status %s created %s ended %v answerLost %v\n",
								s.ID, tag["attempt"], s.Status, s.CreatedAt.Format(time.StampMilli), s.EndedAt, s.AnswerLost)
						}
					}
					for _, line := range managerLines {
						if ref, _ := line["BrowserSession"].(map[string]any); ref != nil && ref["name"] == uids[uid] {
							GinkgoWriter.Printf("  log %s %v %v %v\n", line["ts"], line["msg"], line["sessionID"], line["why"])
						}
					}
				}
				if _, exists := existing[uid]; !exists {
					leaked += len(live[uid])
				}
			}
			// A live session of an existing resource other than its recorded one is a leak too,
			// except a renewal's predecessor during its overlap.
			for uid, bs := range existing {
				for _, id := range live[uid] {
					if id != bs.Status.ID && id != bs.Status.PreviousID {
						leaked++
					}
				}
				if len(live[uid]) != 1 || live[uid][0] != bs.Status.ID {
					GinkgoWriter.Printf("%s: live sessions %v, recorded %q\n", bs.Name, live[uid], bs.Status.ID)
				}
			}
			requests := map[string]int{}
			releases := 0
			for _, r := range emu.Requests() {
				kind := r.Kind()
				requests[fmt.Sprintf("%s:%d", kind, r.Status)]++
				if kind == "release" && r.Status == 200 {
					releases++
				}
			}
			keys := make([]string, 0, len(requests))
			for k := range requests {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var byKind []string
			for _, k := range keys {
				byKind = append(byKind, fmt.Sprintf("%s=%d", k, requests[k]))
			}
			summary = fmt.Sprintf("faults summary: seed=%d chaos=%s commit_late=%s list_lag=%s get_connect=false resources=%d existing=%d deleted=%d kills=%d sessions_created=%d unusable_released=%d replaced=%d renewed=%d duplicates=%d leaked=%d untagged=%d releases=%d requests[%s]",
				seed, chaos, faults.CommitLate, faults.ListLag, len(uids), len(existing), len(deleted), kills, sum(created), sum(unusable), replaced, renewed, duplicates, leaked, orphans, releases, strings.Join(byKind, " "))
			return summary, duplicates, leaked, orphans
		}
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				// The manager's log outlives the run's temporary directory, for a look at what happened.
				if dir := os.Getenv("FAULTS_ARTIFACTS"); dir != "" {
					if raw, err := os.ReadFile(filepath.Join(workDir, "manager.log")); err == nil {
						_ = os.WriteFile(filepath.Join(dir, "faults-manager.log"), raw, 0o644)
					}
				}
				summary, _, _, _ := summarize()
				fmt.Println(summary)
			}
		})

		By("killing the manager at random moments while deleting and adding resources")
		chaosEnd := time.Now().Add(chaos)
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
		added := 0
		for time.Now().Before(chaosEnd) {
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
				create(fmt.Sprintf("late-%02d", added), false, nil)
				added++
			}
			Expect(env.StartManager()).To(Succeed())
		}
		for _, name := range toDelete {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}))).To(Succeed())
			deleted[name] = true
		}

		// The kills above come faster than a manager takes over the lease, so the renewing
		// resources, due every 20 s, are rarely reached. Now that the backlog of creates is done,
		// kills come every 6 to 10 s, with the same faults, for the renewals to be interrupted at
		// every step of a rotation.
		By("renewing under kills")
		renewalChaosEnd := time.Now().Add(max(chaos, 40*time.Second))
		for time.Now().Before(renewalChaosEnd) {
			time.Sleep(time.Duration(6000+rng.IntN(4000)) * time.Millisecond)
			env.KillManager()
			kills++
			Expect(env.StartManager()).To(Succeed())
		}

		By("letting it settle without faults, renewals put off")
		emu.SetFaults(emulator.Faults{})
		for i := range 10 {
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("r-%02d", i)}}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(bs), bs)).To(Succeed())
			patch := client.MergeFrom(bs.DeepCopy())
			bs.Spec.Renewal = renewing("10m")
			Expect(k8s.Patch(ctx, bs, patch)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			list := &v1alpha1.BrowserSessionList{}
			g.Expect(k8s.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
			g.Expect(list.Items).To(HaveLen(120-len(deleted)), "deleted resources are gone")
			notReady := 0
			for _, bs := range list.Items {
				if !meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
					notReady++
				}
			}
			g.Expect(notReady).To(BeZero(), "every remaining resource is Ready")
		}, 4*time.Minute, time.Second).Should(Succeed())

		By("waiting for the sweeps to release what late commits left (every 20 s per resource)")
		Eventually(func(g Gomega) {
			_, _, leaked, _ := summarize()
			g.Expect(leaked).To(BeZero())
		}, 2*time.Minute, 2*time.Second).Should(Succeed())

		By("counting sessions against resources")
		summary, duplicates, leaked, orphans := summarize()
		fmt.Println(summary)
		AddReportEntry("summary", summary)
		list := &v1alpha1.BrowserSessionList{}
		Expect(k8s.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
		for _, bs := range list.Items {
			Expect(bs.Status.ID).NotTo(BeEmpty())
			sess, ok := emu.Session(bs.Status.ID)
			Expect(ok).To(BeTrue())
			Expect(sess.Status).To(Equal("RUNNING"), "%s runs its recorded session", bs.Name)
		}
		Expect(duplicates).To(BeZero())
		Expect(leaked).To(BeZero())
		Expect(summary).NotTo(ContainSubstring(" renewed=0 "), "no renewal happened under kills: the suite did not test one")
		Expect(orphans).To(BeZero())
	}, NodeTimeout(60*time.Minute))
})

func sum(m map[types.UID]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// readManagerLog parses the manager's JSON log lines; other lines are skipped.
func readManagerLog(path string) []map[string]any {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []map[string]any
	for _, l := range strings.Split(string(raw), "\n") {
		line := map[string]any{}
		if json.Unmarshal([]byte(l), &line) == nil {
			out = append(out, line)
		}
	}
	return out
}
