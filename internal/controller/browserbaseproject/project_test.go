package browserbaseproject

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
)

// projectRef names a BrowserbaseProject in the session's namespace.
func projectRef(name string) *v1alpha1.ProjectReference {
	return &v1alpha1.ProjectReference{Kind: v1alpha1.KindBrowserbaseProject, Name: name}
}

// emulated is the emulator's record of a BrowserSession's session.
func emulated(ctx SpecContext, bs *v1alpha1.BrowserSession) emulator.Session {
	GinkgoHelper()
	s, ok := emu.Session(get(ctx, bs).Status.ID)
	Expect(ok).To(BeTrue(), "no emulated session %q", bs.Status.ID)
	return s
}

var _ = Describe("BrowserbaseProject", func() {
	It("notices a key Secret made after the project through its watch, and reports the plan", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		p := newProject(ctx, ns, "main", "bb-key")
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionReady)).Should(haveStatusReason(metav1.ConditionFalse, v1alpha1.ReasonCredentialsMissing))
		Expect(get(ctx, p).Status.Conditions).To(ContainElement(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonCredentialsMissing)),
			"a missing Secret is a wait (Reconciling), not a stall: tools make Secrets after the objects that name them")

		keySecret(ctx, ns, "bb-key", keyA)
		// The suite looks for missing Secrets again only every hour: this is the watch.
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionReady), "15s").Should(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonProjectReady))
		st := get(ctx, p).Status
		Expect(st.ProjectID).To(Equal("proj-a"))
		Expect(st.Concurrency).To(BeEquivalentTo(25))
		Expect(st.DefaultTimeout).To(BeEquivalentTo(600))
		Expect(fmt.Sprint(st)).NotTo(ContainSubstring(keyA))
	})

	It("stalls on a refused key without calling again, and takes a new key from the Secret within seconds", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", "bb_live_not_a_key")
		p := newProject(ctx, ns, "main", "bb-key")
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionStalled)).Should(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonCredentialsRejected))
		Expect(get(ctx, p).Status.Conditions).To(ContainElement(HaveField("Message", ContainSubstring("bb-key"))),
			"the message names the Secret to fix")
		calls := projectCalls()
		Consistently(projectCalls).Should(Equal(calls), "a refused key is not retried until the Secret or the spec changes")

		setKey(ctx, ns, "bb-key", keyB)
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionReady), "15s").Should(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonProjectReady))
		Expect(get(ctx, p).Status.ProjectID).To(Equal("proj-b"))
	})

	It("reports a budget above the plan's concurrency, and stays usable under the plan's limit", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", keyB)
		p := newProject(ctx, ns, "main", "bb-key", func(s *v1alpha1.BrowserbaseProjectSpec) { s.MaxConcurrentSessions = ptr.To[int32](10) })
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionBudgetsValid)).Should(haveStatusReason(metav1.ConditionFalse, v1alpha1.ReasonBudgetAbovePlan))
		Expect(projectCondition(ctx, p, v1alpha1.ConditionBudgetsValid)().Message).To(ContainSubstring("at most 3"))
		Expect(projectCondition(ctx, p, v1alpha1.ConditionReady)().Status).To(Equal(metav1.ConditionTrue))

		By("lowering the budget")
		Eventually(func() error {
			cur := get(ctx, p)
			cur.Spec.MaxConcurrentSessions = ptr.To[int32](2)
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionBudgetsValid)).Should(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonBudgetsWithinPlan))
	})

	It("refuses a key of another project while sessions live in the old one, and keeps them served", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", keyA)
		p := newProject(ctx, ns, "main", "bb-key")
		bs := newSession(ctx, ns, "s", projectRef("main"))
		Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReady)).Should(HaveField("Status", metav1.ConditionTrue))

		setKey(ctx, ns, "bb-key", keyB)
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionStalled), "15s").Should(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonProjectChanged))
		Expect(projectCondition(ctx, p, v1alpha1.ConditionStalled)().Message).To(ContainSubstring(ns + "/s"))
		Expect(get(ctx, p).Status.ProjectID).To(Equal("proj-a"))
		Consistently(sessionCondition(ctx, bs, v1alpha1.ConditionReady)).Should(HaveField("Status", metav1.ConditionTrue),
			"the session runs on, read with the key that made it")

		By("deleting the session: released with the old key, then the project takes the new one")
		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())
		Eventually(func() string { s, _ := emu.Session(bs.Status.ID); return s.Status }, "15s").Should(Equal("COMPLETED"))
		Eventually(func() string { return get(ctx, p).Status.ProjectID }, "60s").Should(Equal("proj-b"))
	})

	It("is kept while a BrowserSession names it", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", keyA)
		p := newProject(ctx, ns, "main", "bb-key")
		bs := newSession(ctx, ns, "s", projectRef("main"))
		Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReady)).Should(HaveField("Status", metav1.ConditionTrue))

		Expect(k8sClient.Delete(ctx, p)).To(Succeed())
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionReconciling)).Should(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonProjectInUse))
		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), p)) }).Should(BeTrue(),
			"the session was released with the project's key, then the project went")
		released, _ := emu.Session(bs.Status.ID)
		Expect(released.Status).To(Equal("COMPLETED"))
	})
})

var _ = Describe("BrowserSessions of a project", func() {
	It("wait for a project that does not exist yet, then use its key and defaults", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		bs := newSession(ctx, ns, "s", projectRef("later"))
		Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReconciling)).Should(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonProjectNotFound))
		Expect(sessionCondition(ctx, bs, v1alpha1.ConditionReconciling)().Message).To(ContainSubstring(`BrowserbaseProject ` + ns + `/later not found`))

		keySecret(ctx, ns, "bb-key", keyA)
		newProject(ctx, ns, "later", "bb-key", func(s *v1alpha1.BrowserbaseProjectSpec) {
			s.SessionDefaults = &v1alpha1.SessionDefaults{Region: "eu-central-1", Timeout: ptr.To[int32](120)}
		})
		// Woken by the project turning Ready, not by the hourly recheck.
		Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReady), "15s").Should(HaveField("Status", metav1.ConditionTrue))
		s := emulated(ctx, bs)
		Expect(s.ProjectID).To(Equal("proj-a"), "created with the project's key")
		Expect(s.Region).To(Equal("eu-central-1"), "the project's default region")
		Expect(s.ExpiresAt.Sub(s.StartedAt)).To(BeNumerically("~", 120*time.Second, 2*time.Second), "the project's default timeout")
	})

	It("keep their own values over the project's defaults", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", keyA)
		newProject(ctx, ns, "main", "bb-key", func(s *v1alpha1.BrowserbaseProjectSpec) {
			s.SessionDefaults = &v1alpha1.SessionDefaults{Region: "eu-central-1"}
		})
		bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s"},
			Spec: v1alpha1.BrowserSessionSpec{ProjectRef: projectRef("main"), Region: "us-east-1"}}
		Expect(k8sClient.Create(ctx, bs)).To(Succeed())
		Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReady)).Should(HaveField("Status", metav1.ConditionTrue))
		Expect(emulated(ctx, bs).Region).To(Equal("us-east-1"))
	})

	It("outside a cluster project's shares stall until their namespace is added", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", keyShared)
		cp := &v1alpha1.ClusterBrowserbaseProject{ObjectMeta: metav1.ObjectMeta{GenerateName: "shared-"},
			Spec: v1alpha1.ClusterBrowserbaseProjectSpec{
				BrowserbaseProjectSpec: v1alpha1.BrowserbaseProjectSpec{APIKeySecretRef: v1alpha1.ProjectAPIKeySecretReference{Name: "bb-key", Namespace: ns}},
				NamespaceShares:        []v1alpha1.NamespaceShare{{Namespace: "someone-else"}},
			}}
		Expect(k8sClient.Create(ctx, cp)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, cp))).To(Succeed()) })

		bs := newSession(ctx, ns, "s", &v1alpha1.ProjectReference{Kind: v1alpha1.KindClusterBrowserbaseProject, Name: cp.Name})
		Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionStalled)).Should(haveStatusReason(metav1.ConditionTrue, v1alpha1.ReasonNamespaceNotAllowed))
		Expect(sessionCondition(ctx, bs, v1alpha1.ConditionStalled)().Message).To(ContainSubstring("spec.namespaceShares"))

		Eventually(func() error {
			cur := get(ctx, cp)
			cur.Spec.NamespaceShares = append(cur.Spec.NamespaceShares, v1alpha1.NamespaceShare{Namespace: ns, MaxConcurrentSessions: ptr.To[int32](2)})
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReady), "15s").Should(HaveField("Status", metav1.ConditionTrue))
		Expect(emulated(ctx, bs).ProjectID).To(Equal("proj-shared"))
	})

	It("that name no project and no key use the default cluster project", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", keyShared)
		cp := &v1alpha1.ClusterBrowserbaseProject{ObjectMeta: metav1.ObjectMeta{GenerateName: "default-",
			Annotations: map[string]string{v1alpha1.AnnotationDefaultProject: "true"}},
			Spec: v1alpha1.ClusterBrowserbaseProjectSpec{BrowserbaseProjectSpec: v1alpha1.BrowserbaseProjectSpec{
				APIKeySecretRef: v1alpha1.ProjectAPIKeySecretReference{Name: "bb-key", Namespace: ns}}}}
		Expect(k8sClient.Create(ctx, cp)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, cp))).To(Succeed()) })
		Eventually(func() metav1.Condition { return condition(get(ctx, cp).Status.Conditions, v1alpha1.ConditionReady) }).
			Should(HaveField("Status", metav1.ConditionTrue))

		bs := newSession(ctx, ns, "s", nil)
		Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReady)).Should(HaveField("Status", metav1.ConditionTrue))
		Expect(emulated(ctx, bs).ProjectID).To(Equal("proj-shared"), "the default project's key, not the operator's")
	})

	It("report a session that ended within seconds, and cost no read of their own while it runs", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", keyA)
		newProject(ctx, ns, "main", "bb-key")
		var sessions []*v1alpha1.BrowserSession
		for i := range 3 {
			sessions = append(sessions, newSession(ctx, ns, fmt.Sprintf("s-%d", i), projectRef("main")))
		}
		for _, bs := range sessions {
			Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReady)).Should(HaveField("Status", metav1.ConditionTrue))
		}
		reads := func() int {
			n := 0
			for _, bs := range sessions {
				n += emu.CountRequests("GET", "/v1/sessions/"+bs.Status.ID)
			}
			return n
		}
		// Each resource is looked at every 2 s (the suite's poll interval); the feed's list answers.
		settled := reads()
		Consistently(reads, "5s").Should(Equal(settled), "a running session is read from the feed's list, not one by one")

		Expect(emu.SetSessionStatus(sessions[1].Status.ID, "COMPLETED")).To(BeTrue())
		Eventually(func() string { return get(ctx, sessions[1]).Status.SessionStatus }, "10s").Should(Equal("COMPLETED"))
		Expect(sessionCondition(ctx, sessions[1], v1alpha1.ConditionReady)().Status).To(Equal(metav1.ConditionFalse))
		Expect(sessionCondition(ctx, sessions[0], v1alpha1.ConditionReady)().Status).To(Equal(metav1.ConditionTrue))
	})

	It("are created in declaration order under the creation limit, with no 429, and show their place meanwhile", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		keySecret(ctx, ns, "bb-key", keyLimited)
		p := newProject(ctx, ns, "main", "bb-key", func(s *v1alpha1.BrowserbaseProjectSpec) { s.MaxCreatesPerMinute = ptr.To[int32](20) })
		Eventually(projectCondition(ctx, p, v1alpha1.ConditionReady)).Should(HaveField("Status", metav1.ConditionTrue))

		const n = 6
		var sessions []*v1alpha1.BrowserSession
		for i := range n {
			sessions = append(sessions, newSession(ctx, ns, fmt.Sprintf("s-%d", i), projectRef("main")))
			time.Sleep(1100 * time.Millisecond) // creationTimestamp has whole seconds: one per second declares an order
		}
		last := sessions[n-1]
		Eventually(func() int32 { return get(ctx, last).Status.QueuePosition }).Should(BeNumerically(">", 0),
			"a waiting resource shows its place")
		Expect(sessionCondition(ctx, last, v1alpha1.ConditionReconciling)().Reason).To(Equal(v1alpha1.ReasonQueued))
		Expect(get(ctx, last).Status.QueueEstimate).NotTo(BeNil())

		var readyAt []time.Time
		for _, bs := range sessions {
			Eventually(sessionCondition(ctx, bs, v1alpha1.ConditionReady), "60s").Should(HaveField("Status", metav1.ConditionTrue))
			readyAt = append(readyAt, sessionCondition(ctx, bs, v1alpha1.ConditionReady)().LastTransitionTime.Time)
		}
		for i := 1; i < n; i++ {
			Expect(readyAt[i]).NotTo(BeTemporally("<", readyAt[i-1]), "s-%d was Ready before s-%d", i, i-1)
		}
		Expect(get(ctx, last).Status.QueuePosition).To(BeZero())
		throttled := 0
		for _, r := range emu.Requests() {
			if r.ProjectID == "proj-limited" && r.Status == 429 {
				throttled++
			}
		}
		Expect(throttled).To(BeZero(), "the queue spaced the creates under the budget")
		Eventually(func() int32 { return get(ctx, p).Status.SessionsRunning }, "10s").Should(BeEquivalentTo(n))
		Expect(get(ctx, p).Status.CreatesPerMinuteLimit).To(BeEquivalentTo(20))
	})
})
