package browserbaseproject

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
)

// newNamespace creates a namespace for one spec; when it ends, its BrowserSessions and then its
// projects are deleted and waited for.
func newNamespace(ctx SpecContext) string {
	GinkgoHelper()
	return controllertest.Namespace(ctx, k8sClient, "projects-",
		&v1alpha1.BrowserSessionList{}, &v1alpha1.BrowserbaseProjectList{})
}

// keySecret creates a Secret holding key under apiKey.
func keySecret(ctx SpecContext, namespace, name, key string) *corev1.Secret {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		StringData: map[string]string{"apiKey": key}}
	Expect(k8sClient.Create(ctx, s)).To(Succeed())
	return s
}

// setKey replaces the key in a Secret.
func setKey(ctx SpecContext, namespace, name, key string) {
	GinkgoHelper()
	s := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s)).To(Succeed())
	s.Data = map[string][]byte{"apiKey": []byte(key)}
	Expect(k8sClient.Update(ctx, s)).To(Succeed())
}

// newProject creates a BrowserbaseProject whose key is in Secret secret.
func newProject(ctx SpecContext, namespace, name, secret string, mutate ...func(*v1alpha1.BrowserbaseProjectSpec)) *v1alpha1.BrowserbaseProject {
	GinkgoHelper()
	p := &v1alpha1.BrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.BrowserbaseProjectSpec{APIKeySecretRef: v1alpha1.ProjectAPIKeySecretReference{Name: secret}}}
	for _, m := range mutate {
		m(&p.Spec)
	}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	return p
}

// newSession creates a BrowserSession that names the project ref (nil: none).
func newSession(ctx SpecContext, namespace, name string, ref *v1alpha1.ProjectReference) *v1alpha1.BrowserSession {
	GinkgoHelper()
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.BrowserSessionSpec{ProjectRef: ref}}
	Expect(k8sClient.Create(ctx, bs)).To(Succeed())
	return bs
}

// get reads obj afresh.
func get[T client.Object](ctx SpecContext, obj T) T {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	return obj
}

// condition is the condition typ of conditions, or an empty one.
func condition(conditions []metav1.Condition, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// projectCondition is the condition typ of a BrowserbaseProject as stored.
func projectCondition(ctx SpecContext, p *v1alpha1.BrowserbaseProject, typ string) func() metav1.Condition {
	return func() metav1.Condition { return condition(get(ctx, p).Status.Conditions, typ) }
}

// sessionCondition is the condition typ of a BrowserSession as stored.
func sessionCondition(ctx SpecContext, bs *v1alpha1.BrowserSession, typ string) func() metav1.Condition {
	return func() metav1.Condition { return condition(get(ctx, bs).Status.Conditions, typ) }
}

// haveStatusReason matches a condition's status and reason.
func haveStatusReason(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(HaveField("Status", status), HaveField("Reason", reason))
}

// projectCalls counts the emulator's project reads.
func projectCalls() int { return emu.CountRequests("GET", "/v1/projects") }
