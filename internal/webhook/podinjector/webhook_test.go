package podinjector

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
)

var _ = Describe("Pods created through the API server", func() {
	var namespace string

	newPod := func(template string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: namespace},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
		}
		if template != "" {
			p.Labels = map[string]string{v1alpha1.LabelSessionTemplate: template}
		}
		return p
	}

	BeforeEach(func(ctx SpecContext) {
		namespace = controllertest.Namespace(ctx, k8sClient, "inject-", &corev1.PodList{})
		tpl := &v1alpha1.BrowserSessionTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "checkout"},
			Spec:       v1alpha1.BrowserSessionTemplateSpec{Template: v1alpha1.BrowserSessionSpec{}},
		}
		Expect(k8sClient.Create(ctx, tpl)).To(Succeed())
	})

	It("come back with their session's Secret wired in", func(ctx SpecContext) {
		p := newPod("checkout")
		Expect(k8sClient.Create(ctx, p)).To(Succeed())

		secret := p.Annotations[v1alpha1.AnnotationSessionSecret]
		Expect(secret).To(MatchRegexp(`^checkout-[a-z0-9]{5}$`))
		Expect(p.Spec.Volumes).To(ContainElement(HaveField("Secret.SecretName", secret)))
		app := p.Spec.Containers[0]
		Expect(app.VolumeMounts).To(ContainElement(corev1.VolumeMount{
			Name: VolumeName, MountPath: v1alpha1.DefaultSessionVolumeMountPath, ReadOnly: true,
		}))
		Expect(app.Env).To(ContainElement(And(
			HaveField("Name", v1alpha1.DefaultEnvConnectURL),
			HaveField("ValueFrom.SecretKeyRef.Name", secret),
			HaveField("ValueFrom.SecretKeyRef.Key", "connectUrl"),
		)))
	})

	It("refuses a Pod whose template does not exist, saying which", func(ctx SpecContext) {
		err := k8sClient.Create(ctx, newPod("missing"))
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`BrowserSessionTemplate "missing" not found in namespace "` + namespace + `"`))
	})

	It("mutates a dry-run Pod and stores nothing", func(ctx SpecContext) {
		p := newPod("checkout")
		p.GenerateName, p.Name = "", "dry"
		Expect(k8sClient.Create(ctx, p, client.DryRunAll)).To(Succeed())
		Expect(p.Annotations).To(HaveKey(v1alpha1.AnnotationSessionSecret))
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &corev1.Pod{}))).To(BeTrue())
	})

	It("leaves Pods without the label alone", func(ctx SpecContext) {
		p := newPod("")
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		Expect(p.Annotations).NotTo(HaveKey(v1alpha1.AnnotationSessionSecret))
		Expect(p.Spec.Volumes).NotTo(ContainElement(HaveField("Name", VolumeName)))
	})
})
