package browsersession

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/argocd"
	"github.com/browserbase/session-operator/internal/emulator"
)

// What kubectl wait, Flux and every kstatus-based tool conclude from the status the reconciler
// writes, computed by the library itself on resources from live reconciles, and what Argo CD's
// health check makes of the same objects.
var _ = Describe("kstatus and Argo CD health", func() {
	var ns string

	BeforeEach(func(ctx SpecContext) { ns = testNamespace(ctx, "bbs-kstatus-") })

	// read gets the live resource as kstatus-based tools do, unstructured: a typed read would
	// drop a zero observedGeneration.
	read := func(ctx SpecContext, g Gomega, bs *v1alpha1.BrowserSession) *unstructured.Unstructured {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("BrowserSession"))
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
		return got
	}
	// kstatusOf returns the kstatus of a resource, and checks that Argo CD's health check
	// (config/argocd) agrees: Current is Healthy, InProgress Progressing, Failed Degraded.
	kstatusOf := func(g Gomega, u *unstructured.Unstructured) status.Status {
		result, err := status.Compute(u)
		g.Expect(err).NotTo(HaveOccurred())
		health, err := argocd.Evaluate(u.Object)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(health.Status).To(Equal(map[status.Status]string{
			status.CurrentStatus: "Healthy", status.InProgressStatus: "Progressing", status.FailedStatus: "Degraded",
		}[result.Status]), "Argo CD health %+v for kstatus %s", health, result.Status)
		g.Expect(health.Message).NotTo(BeEmpty())
		return result.Status
	}
	compute := func(ctx SpecContext, bs *v1alpha1.BrowserSession) status.Status {
		GinkgoHelper()
		return kstatusOf(Default, read(ctx, Default, bs))
	}
	create := func(ctx SpecContext, name string, mutate func(*v1alpha1.BrowserSession)) *v1alpha1.BrowserSession {
		bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if mutate != nil {
			mutate(bs)
		}
		Expect(k8sClient.Create(ctx, bs)).To(Succeed())
		return bs
	}
	// visited waits for the operator's first status write: before it, kstatus calls any resource
	// Current (see the last case).
	visited := func(ctx SpecContext, bs *v1alpha1.BrowserSession, typ string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			got := &v1alpha1.BrowserSession{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, typ)).To(BeTrue())
		}).Should(Succeed())
	}
	withKey := func(secret string) func(*v1alpha1.BrowserSession) {
		return func(bs *v1alpha1.BrowserSession) {
			bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: secret}
		}
	}

	It("is Current when Ready, and Failed once the session has timed out", func(ctx SpecContext) {
		bs := create(ctx, "running", nil)
		visited(ctx, bs, v1alpha1.ConditionReady)
		Expect(compute(ctx, bs)).To(Equal(status.CurrentStatus))

		got := &v1alpha1.BrowserSession{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
		Expect(emu.SetSessionStatus(got.Status.ID, "TIMED_OUT")).To(BeTrue())
		visited(ctx, bs, v1alpha1.ConditionStalled)
		Expect(compute(ctx, bs)).To(Equal(status.FailedStatus))
	})

	// A session whose clients disconnected ended normally, the way a Job completes: Ready False
	// with reason SessionCompleted, neither Stalled (kstatus Failed) nor Reconciling, and Argo CD
	// Healthy. kstatus reads a Ready False without Reconciling or Stalled as InProgress: it has no
	// state for "done and not usable" on a custom resource (docs/gitops.md).
	It("is not Failed once its clients disconnected, and Argo CD Healthy", func(ctx SpecContext) {
		bs := create(ctx, "completed", nil)
		visited(ctx, bs, v1alpha1.ConditionReady)
		got := &v1alpha1.BrowserSession{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
		Expect(emu.SetSessionStatus(got.Status.ID, "COMPLETED")).To(BeTrue())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
			ready := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonSessionCompleted))
		}).Should(Succeed())
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled)).To(BeNil())
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)).To(BeNil())
		u := read(ctx, Default, bs)
		result, err := status.Compute(u)
		Expect(err).NotTo(HaveOccurred())
		Expect(result.Status).NotTo(Equal(status.FailedStatus))
		health, err := argocd.Evaluate(u.Object)
		Expect(err).NotTo(HaveOccurred())
		Expect(health.Status).To(Equal("Healthy"))
	})

	It("is never Current before it is Ready, from its creation on", func(ctx SpecContext) {
		// A slow create keeps the resource without any status written by the operator for seconds:
		// the API server's default (observedGeneration 0) is what keeps it InProgress meanwhile.
		emu.SetFaults(emulator.Faults{Latency: 3 * time.Second})
		DeferCleanup(func() { emu.SetFaults(emulator.Faults{}) })
		bs := create(ctx, "slow", nil)
		var beforeReady []status.Status
		sawUnvisited := false
		Eventually(func(g Gomega) {
			u := read(ctx, g, bs)
			st := kstatusOf(g, u)
			conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			ready := st == status.CurrentStatus && len(conditions) > 0
			if !ready {
				beforeReady = append(beforeReady, st)
				sawUnvisited = sawUnvisited || len(conditions) == 0
			}
			g.Expect(ready).To(BeTrue(), "not Ready yet")
		}).Should(Succeed())
		Expect(sawUnvisited).To(BeTrue(), "the resource was seen before the operator wrote its status")
		Expect(beforeReady).To(HaveEach(status.InProgressStatus))
		got := &v1alpha1.BrowserSession{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
	})

	It("is InProgress while waiting on a rate limit", func(ctx SpecContext) {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "limited"},
			StringData: map[string]string{"apiKey": oneSlotKey},
		})).To(Succeed())
		first := create(ctx, "holds-the-slot", withKey("limited"))
		visited(ctx, first, v1alpha1.ConditionReady)
		Expect(compute(ctx, first)).To(Equal(status.CurrentStatus))
		second := create(ctx, "waits", withKey("limited"))
		visited(ctx, second, v1alpha1.ConditionReconciling)
		Expect(compute(ctx, second)).To(Equal(status.InProgressStatus))
	})

	It("is Failed on an error a person must fix", func(ctx SpecContext) {
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "revoked"},
			StringData: map[string]string{"apiKey": "bb_revoked_key"},
		})).To(Succeed())
		bs := create(ctx, "rejected-key", withKey("revoked"))
		visited(ctx, bs, v1alpha1.ConditionStalled)
		Expect(compute(ctx, bs)).To(Equal(status.FailedStatus))
	})

	// External Secrets, SOPS or sealed-secrets make the API key's Secret some time after the
	// BrowserSession: Flux's wait must not fail fast on that, and Argo CD (checked by kstatusOf) must
	// not call it Degraded.
	It("is InProgress, not Failed, while its API key Secret does not exist yet", func(ctx SpecContext) {
		bs := create(ctx, "key-to-come", withKey("materialised-later"))
		visited(ctx, bs, v1alpha1.ConditionReconciling)
		Expect(compute(ctx, bs)).To(Equal(status.InProgressStatus))
	})

	It("is InProgress, not Current, before the operator has looked", func(ctx SpecContext) {
		// A resource with no status at all is Current to kstatus, its own rule, documented here.
		// The API server defaults status.observedGeneration to 0 for the operator's resources,
		// which kstatus reads as a generation not yet observed.
		bare := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unseen", Generation: 1}}
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(bare)
		Expect(err).NotTo(HaveOccurred())
		result, err := status.Compute(&unstructured.Unstructured{Object: raw})
		Expect(err).NotTo(HaveOccurred())
		Expect(result.Status).To(Equal(status.CurrentStatus))
		Expect(unstructured.SetNestedField(raw, int64(0), "status", "observedGeneration")).To(Succeed())
		result, err = status.Compute(&unstructured.Unstructured{Object: raw})
		Expect(err).NotTo(HaveOccurred())
		Expect(result.Status).To(Equal(status.InProgressStatus))

		By("the API server giving a new resource that status before the operator writes any")
		ghost := &unstructured.Unstructured{}
		ghost.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("BrowserSession"))
		ghost.SetNamespace(ns)
		ghost.SetName("unseen")
		ghost.Object["spec"] = map[string]any{}
		// Server-side dry run: admitted and defaulted as for real, never stored, never reconciled.
		Expect(k8sClient.Create(ctx, ghost, client.DryRunAll)).To(Succeed())
		observed, found, err := unstructured.NestedInt64(ghost.Object, "status", "observedGeneration")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue(), "status %v", ghost.Object["status"])
		Expect(observed).To(BeZero())
	})
	It("stays Current (Argo CD Healthy) through a renewal before expiry", func(ctx SpecContext) {
		bs := create(ctx, "rotating", func(bs *v1alpha1.BrowserSession) {
			bs.Spec.Timeout = ptr.To[int32](3600)
			bs.Spec.Renewal = &v1alpha1.Renewal{
				Policy:      v1alpha1.RenewalBeforeExpiry,
				RenewBefore: &metav1.Duration{Duration: 3580 * time.Second}, // due 20 s after the start
				Overlap:     &metav1.Duration{Duration: 2 * time.Second},
			}
		})
		visited(ctx, bs, v1alpha1.ConditionReady)
		Expect(compute(ctx, bs)).To(Equal(status.CurrentStatus))
		// Every observation must be Current, until the successor is current and its predecessor
		// released: Expect (not g.Expect) fails the spec at once.
		Eventually(func(g Gomega) {
			u := read(ctx, Default, bs)
			Expect(kstatusOf(Default, u)).To(Equal(status.CurrentStatus), "during the rotation: %v", u.Object["status"])
			revision, _, _ := unstructured.NestedInt64(u.Object, "status", "revision")
			previous, _, _ := unstructured.NestedString(u.Object, "status", "previousId")
			g.Expect(revision).To(BeNumerically(">=", 2))
			g.Expect(previous).To(BeEmpty())
		}, time.Minute, 50*time.Millisecond).Should(Succeed())
		deleteAndWait(ctx, bs)
	})
})
