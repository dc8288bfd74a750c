package browsercontext

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

var _ = Describe("BrowserContext", func() {
	// readyContext creates a BrowserContext and waits until it is Ready, and returns it with the
	// context id from its Secret.
	readyContext := func(ctx SpecContext, namespace string, spec v1alpha1.BrowserContextSpec) (*v1alpha1.BrowserContext, string) {
		GinkgoHelper()
		bc := &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "profile"}, Spec: spec}
		Expect(k8sClient.Create(ctx, bc)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			g.Expect(bc.Status.ObservedGeneration).To(Equal(bc.Generation))
			g.Expect(meta.IsStatusConditionTrue(bc.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%+v", bc.Status.Conditions)
			g.Expect(bc.Status.CreatedAt).NotTo(BeNil())
		}).Should(Succeed())
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "profile-browserbase-context"}, secret)).To(Succeed())
		id := string(secret.Data[SecretKeyContextID])
		Expect(id).NotTo(BeEmpty())
		Expect(metav1.IsControlledBy(secret, bc)).To(BeTrue())
		Expect(bc.Status.RedactedID).To(Equal(id[:4] + "…"))
		Expect(bc.Status.SecretName).To(Equal(secret.Name))
		Expect(bc.Status.ProjectID).To(Equal("proj-default"))
		return bc, id
	}
	contextExists := func(ctx SpecContext, id string) bool {
		GinkgoHelper()
		_, err := bb.GetContext(ctx, defaultKey, id)
		if browserbase.IsNotFound(err) {
			return false
		}
		Expect(err).NotTo(HaveOccurred())
		return true
	}
	// deleted waits until bc is gone, and checks its Secret is let go (envtest runs no garbage
	// collector, so the Secret itself stays).
	deleted := func(ctx SpecContext, bc *v1alpha1.BrowserContext) {
		GinkgoHelper()
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(bc), &v1alpha1.BrowserContext{}))
		}).Should(BeTrue())
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: bc.Namespace, Name: SecretName(bc)}, secret)).To(Succeed())
		Expect(secret.Finalizers).NotTo(ContainElement(v1alpha1.ContextFinalizer))
	}

	It("creates the context, writes its id into the Secret, and deletes the context with the resource", func(ctx SpecContext) {
		ns := newNamespace(ctx, "context-create-")
		bc, id := readyContext(ctx, ns, v1alpha1.BrowserContextSpec{})
		Expect(contextExists(ctx, id)).To(BeTrue())

		Expect(k8sClient.Delete(ctx, bc)).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, id)).To(BeFalse())
	})

	It("keeps the context when deletionPolicy was switched to Orphan", func(ctx SpecContext) {
		ns := newNamespace(ctx, "context-orphan-")
		bc, id := readyContext(ctx, ns, v1alpha1.BrowserContextSpec{DeletionPolicy: v1alpha1.DeletionPolicyDelete})
		base := bc.DeepCopy()
		bc.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
		Expect(k8sClient.Patch(ctx, bc, client.MergeFrom(base))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			g.Expect(bc.Status.ObservedGeneration).To(Equal(bc.Generation))
		}).Should(Succeed())

		Expect(k8sClient.Delete(ctx, bc)).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, id)).To(BeTrue())
		Expect(bb.DeleteContext(ctx, defaultKey, id)).To(Succeed())
	})

	It("waits to delete the context until no BrowserSession names it", func(ctx SpecContext) {
		ns := newNamespace(ctx, "context-in-use-")
		bc, id := readyContext(ctx, ns, v1alpha1.BrowserContextSpec{})
		bs := &v1alpha1.BrowserSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scraper"},
			Spec: v1alpha1.BrowserSessionSpec{BrowserSettings: &v1alpha1.BrowserSettings{
				Context: &v1alpha1.ContextReference{Name: bc.Name},
			}},
		}
		Expect(k8sClient.Create(ctx, bs)).To(Succeed())

		Expect(k8sClient.Delete(ctx, bc)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			reconciling := meta.FindStatusCondition(bc.Status.Conditions, v1alpha1.ConditionReconciling)
			g.Expect(reconciling).NotTo(BeNil())
			g.Expect(reconciling.Reason).To(Equal(v1alpha1.ReasonContextInUse))
			g.Expect(reconciling.Message).To(ContainSubstring("scraper"))
			g.Expect(reconciling.Message).NotTo(ContainSubstring(id))
		}).Should(Succeed())
		Consistently(func() bool { return contextExists(ctx, id) }).Should(BeTrue())

		Expect(k8sClient.Delete(ctx, bs)).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, id)).To(BeFalse())
	})
})
