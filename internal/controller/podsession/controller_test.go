package podsession

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

var _ = Describe("Pod controller", func() {
	var namespace string
	BeforeEach(func(ctx SpecContext) {
		namespace = newNamespace(ctx, "pods-")
	})

	// createTemplate creates template web, whose sessions time out after ten minutes.
	createTemplate := func(ctx SpecContext) *v1alpha1.BrowserSessionTemplate {
		GinkgoHelper()
		tpl := newTemplate("web", 600)
		tpl.Namespace = namespace
		Expect(env.Client.Create(ctx, tpl)).To(Succeed())
		return tpl
	}
	// createPod creates a Pod that opts in to template web, annotated as the webhook would.
	createPod := func(ctx SpecContext, name string) *corev1.Pod {
		GinkgoHelper()
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: namespace, Name: name,
				Labels:      map[string]string{v1alpha1.LabelSessionTemplate: "web"},
				Annotations: map[string]string{v1alpha1.AnnotationSessionSecret: name + "-session"},
			},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app"}}},
		}
		Expect(env.Client.Create(ctx, pod)).To(Succeed())
		return pod
	}
	// readySession waits for the Pod's BrowserSession to be Ready, with its Secret, and returns it.
	readySession := func(ctx SpecContext, pod *corev1.Pod) *v1alpha1.BrowserSession {
		GinkgoHelper()
		bs := &v1alpha1.BrowserSession{}
		key := client.ObjectKey{Namespace: namespace, Name: pod.Name + "-session"}
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, key, bs)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		}).Should(Succeed())
		Expect(bs.Labels).To(HaveKeyWithValue(v1alpha1.LabelPodUID, string(pod.UID)))
		Expect(bs.Spec.SecretName).To(Equal(key.Name))
		Expect(*bs.Spec.Timeout).To(BeEquivalentTo(600))
		secret := &corev1.Secret{}
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, key, secret)).To(Succeed())
			g.Expect(secret.Data).To(HaveKey("connectUrl"))
		}).Should(Succeed())
		return bs
	}
	// waitGone waits for the BrowserSession to be gone, and its Browserbase session released.
	waitGone := func(ctx SpecContext, bs *v1alpha1.BrowserSession) {
		GinkgoHelper()
		Eventually(func() error {
			return env.Client.Get(ctx, client.ObjectKeyFromObject(bs), &v1alpha1.BrowserSession{})
		}).Should(Satisfy(apierrors.IsNotFound))
		sess, ok := env.Emulator.Session(bs.Status.ID)
		Expect(ok).To(BeTrue())
		Expect(sess.Status).To(Equal("COMPLETED"), "the Browserbase session is released")
	}
	// sessionCounts is template web's status.sessions.
	sessionCounts := func(ctx SpecContext) func() v1alpha1.SessionCounts {
		return func() v1alpha1.SessionCounts {
			tpl := &v1alpha1.BrowserSessionTemplate{}
			Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "web"}, tpl)).To(Succeed())
			return tpl.Status.Sessions
		}
	}

	It("gives a Pod its session, and releases it when the Pod succeeds", func(ctx SpecContext) {
		createTemplate(ctx)
		pod := createPod(ctx, "job-1")
		bs := readySession(ctx, pod)
		Eventually(sessionCounts(ctx)).Should(Equal(v1alpha1.SessionCounts{Ready: 1}))

		pod.Status.Phase = corev1.PodSucceeded
		Expect(env.Client.Status().Update(ctx, pod)).To(Succeed())
		waitGone(ctx, bs)
		Eventually(sessionCounts(ctx)).Should(Equal(v1alpha1.SessionCounts{}))
	})

	It("releases the session when the Pod is deleted", func(ctx SpecContext) {
		createTemplate(ctx)
		pod := createPod(ctx, "web-1")
		bs := readySession(ctx, pod)

		Expect(env.Client.Delete(ctx, pod)).To(Succeed())
		waitGone(ctx, bs)
	})

	It("gives a Pod re-created under the same name a session of its own", func(ctx SpecContext) {
		createTemplate(ctx)
		first := readySession(ctx, createPod(ctx, "web-2"))
		// Deleted and re-created before the operator looks: a StatefulSet's Pod, for example.
		Expect(env.Client.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "web-2"}})).To(Succeed())
		pod := createPod(ctx, "web-2")
		// The garbage collector's part, which envtest does not play: the first session's Secret
		// goes after it, and the new session waits for that.
		Eventually(func() error {
			return env.Client.Get(ctx, client.ObjectKeyFromObject(first), &v1alpha1.BrowserSession{})
		}).Should(Satisfy(apierrors.IsNotFound))
		Consistently(func() error {
			return env.Client.Get(ctx, client.ObjectKeyFromObject(first), &v1alpha1.BrowserSession{})
		}, "2s").Should(Satisfy(apierrors.IsNotFound), "no session while the first one's Secret is there")
		Expect(env.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: first.Name}})).To(Succeed())

		second := readySession(ctx, pod)
		Expect(second.Status.ID).NotTo(Equal(first.Status.ID))
		sess, _ := env.Emulator.Session(first.Status.ID)
		Expect(sess.Status).To(Equal("COMPLETED"), "the first Pod's session is released")
	})

	It("makes no session without its template, and makes it when the template appears", func(ctx SpecContext) {
		pod := createPod(ctx, "early")
		Consistently(func() error {
			return env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "early-session"}, &v1alpha1.BrowserSession{})
		}).Should(Satisfy(apierrors.IsNotFound))

		createTemplate(ctx)
		readySession(ctx, pod)
	})
})
