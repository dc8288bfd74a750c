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
		Expect(env.Client.Create(ctx, bc)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			g.Expect(bc.Status.ObservedGeneration).To(Equal(bc.Generation))
			g.Expect(meta.IsStatusConditionTrue(bc.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%+v", bc.Status.Conditions)
			g.Expect(bc.Status.CreatedAt).NotTo(BeNil())
			// Once status records the id, the create is no longer in doubt.
			g.Expect(bc.Status.IDDigest).NotTo(BeEmpty())
			g.Expect(bc.Annotations).NotTo(HaveKey(v1alpha1.AnnotationContextCreateAttemptedAt))
		}).Should(Succeed())
		secret := &corev1.Secret{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "profile-browserbase-context"}, secret)).To(Succeed())
		id := string(secret.Data[SecretKeyContextID])
		Expect(id).NotTo(BeEmpty())
		Expect(metav1.IsControlledBy(secret, bc)).To(BeTrue())
		Expect(bc.Status.RedactedID).To(Equal(id[:4] + "…"))
		Expect(bc.Status.SecretName).To(Equal(secret.Name))
		Expect(bc.Status.ProjectID).To(Equal("proj-default"))
		return bc, id
	}
	// stalled waits until bc is Stalled with reason and a message containing says, and returns
	// the message.
	stalled := func(ctx SpecContext, bc *v1alpha1.BrowserContext, reason, says string) string {
		GinkgoHelper()
		var message string
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			cond := meta.FindStatusCondition(bc.Status.Conditions, v1alpha1.ConditionStalled)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(cond.Reason).To(Equal(reason))
			g.Expect(cond.Message).To(ContainSubstring(says))
			message = cond.Message
		}).Should(Succeed())
		return message
	}
	contextExists := func(ctx SpecContext, id string) bool {
		GinkgoHelper()
		_, err := env.Browserbase.GetContext(ctx, defaultKey, id)
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
			return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(bc), &v1alpha1.BrowserContext{}))
		}).Should(BeTrue())
		secret := &corev1.Secret{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: bc.Namespace, Name: SecretName(bc)}, secret)).To(Succeed())
		Expect(secret.Finalizers).NotTo(ContainElement(v1alpha1.ContextFinalizer))
	}

	It("creates the context, writes its id into the Secret, and deletes the context with the resource", func(ctx SpecContext) {
		ns := newNamespace(ctx, "context-create-")
		bc, id := readyContext(ctx, ns, v1alpha1.BrowserContextSpec{})
		Expect(contextExists(ctx, id)).To(BeTrue())

		Expect(env.Client.Delete(ctx, bc)).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, id)).To(BeFalse())
	})

	It("keeps the context when deletionPolicy was switched to Orphan", func(ctx SpecContext) {
		ns := newNamespace(ctx, "context-orphan-")
		bc, id := readyContext(ctx, ns, v1alpha1.BrowserContextSpec{DeletionPolicy: v1alpha1.DeletionPolicyDelete})
		base := bc.DeepCopy()
		bc.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
		Expect(env.Client.Patch(ctx, bc, client.MergeFrom(base))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			g.Expect(bc.Status.ObservedGeneration).To(Equal(bc.Generation))
		}).Should(Succeed())

		Expect(env.Client.Delete(ctx, bc)).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, id)).To(BeTrue())
		Expect(env.Browserbase.DeleteContext(ctx, defaultKey, id)).To(Succeed())
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
		Expect(env.Client.Create(ctx, bs)).To(Succeed())

		Expect(env.Client.Delete(ctx, bc)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			reconciling := meta.FindStatusCondition(bc.Status.Conditions, v1alpha1.ConditionReconciling)
			g.Expect(reconciling).NotTo(BeNil())
			g.Expect(reconciling.Reason).To(Equal(v1alpha1.ReasonContextInUse))
			g.Expect(reconciling.Message).To(ContainSubstring("scraper"))
			g.Expect(reconciling.Message).NotTo(ContainSubstring(id))
		}).Should(Succeed())
		Consistently(func() bool { return contextExists(ctx, id) }).Should(BeTrue())

		Expect(env.Client.Delete(ctx, bs)).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, id)).To(BeFalse())
	})

	It("waits to delete the context until no BrowserSession gives its id", func(ctx SpecContext) {
		ns := newNamespace(ctx, "context-in-use-by-id-")
		bc, id := readyContext(ctx, ns, v1alpha1.BrowserContextSpec{})
		bs := &v1alpha1.BrowserSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "by-id"},
			Spec: v1alpha1.BrowserSessionSpec{BrowserSettings: &v1alpha1.BrowserSettings{
				Context: &v1alpha1.ContextReference{ID: id},
			}},
		}
		Expect(env.Client.Create(ctx, bs)).To(Succeed())

		Expect(env.Client.Delete(ctx, bc)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			reconciling := meta.FindStatusCondition(bc.Status.Conditions, v1alpha1.ConditionReconciling)
			g.Expect(reconciling).NotTo(BeNil())
			g.Expect(reconciling.Reason).To(Equal(v1alpha1.ReasonContextInUse))
			g.Expect(reconciling.Message).To(ContainSubstring("by-id"))
			g.Expect(reconciling.Message).NotTo(ContainSubstring(id))
		}).Should(Succeed())
		Consistently(func() bool { return contextExists(ctx, id) }).Should(BeTrue())

		// The session's deletion wakes the BrowserContext (through its id's digest): well before
		// the minute after which a waiting deletion looks again by itself.
		Expect(env.Client.Delete(ctx, bs)).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, id)).To(BeFalse())
	})

	It("does not make a new context when the Secret is lost, and takes the Secret back when a person re-creates it", func(ctx SpecContext) {
		ns := newNamespace(ctx, "context-secret-lost-")
		bc, id := readyContext(ctx, ns, v1alpha1.BrowserContextSpec{})
		secret := &corev1.Secret{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: SecretName(bc)}, secret)).To(Succeed())
		base := secret.DeepCopy()
		secret.Finalizers = nil
		Expect(env.Client.Patch(ctx, secret, client.MergeFrom(base))).To(Succeed())
		Expect(env.Client.Delete(ctx, secret)).To(Succeed())

		message := stalled(ctx, bc, v1alpha1.ReasonContextSecretLost, v1alpha1.AnnotationForgetContext+"="+bc.Status.IDDigest)
		Expect(message).NotTo(ContainSubstring(id))
		Expect(bc.Status.RedactedID).To(Equal(id[:4] + "…"))
		// No new context, so no new Secret.
		Consistently(func() bool {
			return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: SecretName(bc)}, &corev1.Secret{}))
		}).Should(BeTrue())

		restored := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: SecretName(bc)},
			Data:       map[string][]byte{SecretKeyContextID: []byte(id)},
		}
		Expect(env.Client.Create(ctx, restored)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bc), bc)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(bc.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%+v", bc.Status.Conditions)
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(restored), restored)).To(Succeed())
			g.Expect(metav1.IsControlledBy(restored, bc)).To(BeTrue())
			g.Expect(restored.Finalizers).To(ContainElement(v1alpha1.ContextFinalizer))
		}).Should(Succeed())

		Expect(env.Client.Delete(ctx, bc)).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, id)).To(BeFalse())
	})

	It("never deletes a context whose id was swapped into the Secret", func(ctx SpecContext) {
		ns := newNamespace(ctx, "context-swapped-")
		bc, id := readyContext(ctx, ns, v1alpha1.BrowserContextSpec{})
		other, err := env.Browserbase.CreateContext(ctx, defaultKey, "")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			Expect(env.Browserbase.DeleteContext(ctx, defaultKey, other.ID)).To(Succeed())
			Expect(env.Browserbase.DeleteContext(ctx, defaultKey, id)).To(Succeed())
		})
		secret := &corev1.Secret{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: SecretName(bc)}, secret)).To(Succeed())
		base := secret.DeepCopy()
		secret.Data[SecretKeyContextID] = []byte(other.ID)
		Expect(env.Client.Patch(ctx, secret, client.MergeFrom(base))).To(Succeed())
		Expect(stalled(ctx, bc, v1alpha1.ReasonContextIDMismatch, v1alpha1.AnnotationForgetContext)).NotTo(ContainSubstring(other.ID))

		Expect(env.Client.Delete(ctx, bc)).To(Succeed())
		Expect(stalled(ctx, bc, v1alpha1.ReasonContextIDMismatch, v1alpha1.AnnotationSkipRelease)).NotTo(ContainSubstring(other.ID))
		Consistently(func() bool { return contextExists(ctx, other.ID) && contextExists(ctx, id) }).Should(BeTrue())

		skip := bc.DeepCopy()
		skip.Annotations = map[string]string{v1alpha1.AnnotationSkipRelease: "true"}
		Expect(env.Client.Patch(ctx, skip, client.MergeFrom(bc))).To(Succeed())
		deleted(ctx, bc)
		Expect(contextExists(ctx, other.ID)).To(BeTrue())
	})
})
