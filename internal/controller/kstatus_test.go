package controller

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/test/argocd"
)

// What kubectl wait, Flux and every kstatus-based tool conclude from the status the reconciler
// writes, computed by the library itself on resources from live reconciles, and what Argo CD's
// health check makes of the same objects.
var _ = Describe("kstatus and Argo CD health", func() {
	var ns string

	BeforeEach(func(ctx SpecContext) { ns = testNamespace(ctx, "bbs-kstatus-") })

	// compute returns the kstatus of the live resource, and checks that Argo CD's health check
	// (config/argocd) agrees: Current is Healthy, InProgress Progressing, Failed Degraded.
	compute := func(ctx SpecContext, bs *v1alpha1.BrowserSession) status.Status {
		GinkgoHelper()
		got := &v1alpha1.BrowserSession{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(got)
		Expect(err).NotTo(HaveOccurred())
		result, err := status.Compute(&unstructured.Unstructured{Object: raw})
		Expect(err).NotTo(HaveOccurred())
		health, err := argocd.Evaluate(raw)
		Expect(err).NotTo(HaveOccurred())
		Expect(health.Status).To(Equal(map[status.Status]string{
			status.CurrentStatus: "Healthy", status.InProgressStatus: "Progressing", status.FailedStatus: "Degraded",
		}[result.Status]), "Argo CD health %+v for kstatus %s", health, result.Status)
		Expect(health.Message).NotTo(BeEmpty())
		return result.Status
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

	It("is Current when Ready, and Failed once the session has ended", func(ctx SpecContext) {
		bs := create(ctx, "running", nil)
		visited(ctx, bs, v1alpha1.ConditionReady)
		Expect(compute(ctx, bs)).To(Equal(status.CurrentStatus))

		got := &v1alpha1.BrowserSession{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bs), got)).To(Succeed())
		Expect(emu.SetSessionStatus(got.Status.ID, "COMPLETED")).To(BeTrue())
		visited(ctx, bs, v1alpha1.ConditionStalled)
		Expect(compute(ctx, bs)).To(Equal(status.FailedStatus))
	})

	It("is InProgress, not Current, while the first create is in flight", func(ctx SpecContext) {
		emu.SetFaults(emulator.Faults{Latency: 3 * time.Second})
		DeferCleanup(func() { emu.SetFaults(emulator.Faults{}) })
		bs := create(ctx, "slow", nil)
		visited(ctx, bs, v1alpha1.ConditionReconciling)
		Expect(compute(ctx, bs)).To(Equal(status.InProgressStatus))
		visited(ctx, bs, v1alpha1.ConditionReady)
		Expect(compute(ctx, bs)).To(Equal(status.CurrentStatus))
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
		bs := create(ctx, "no-key", withKey("absent"))
		visited(ctx, bs, v1alpha1.ConditionStalled)
		Expect(compute(ctx, bs)).To(Equal(status.FailedStatus))
	})

	It("is InProgress, not Current, before the operator has looked", func(ctx SpecContext) {
		bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unseen"}}
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(bs)
		Expect(err).NotTo(HaveOccurred())
		// A resource with no status at all is Current to kstatus; the operator writes conditions
		// on its first visit so that this window is one reconcile long.
		result, err := status.Compute(&unstructured.Unstructured{Object: raw})
		Expect(err).NotTo(HaveOccurred())
		Expect(result.Status).To(Equal(status.CurrentStatus), "kstatus' own rule, documented here")
		create(ctx, "seen", nil)
		Eventually(func(g Gomega) {
			got := &v1alpha1.BrowserSession{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(&v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "seen"}}), got)).To(Succeed())
			g.Expect(got.Status.Conditions).NotTo(BeEmpty())
			g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		}).Should(Succeed())
	})
})
