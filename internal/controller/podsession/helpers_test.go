package podsession

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/reconcile"
)

const testNamespace = "ns"

// newFakeClient is a fake client set up as the manager's, with this controller's index, funcs
// intercepting its calls, holding objs.
func newFakeClient(funcs interceptor.Funcs, objs ...client.Object) client.WithWatch {
	return controllertest.FakeClientBuilder(funcs).
		WithIndex(&v1alpha1.BrowserSession{}, ownerPodField, ownerPodIndex).
		WithObjects(objs...).Build()
}

// newReconciler is a Reconciler on c, its events recorded.
func newReconciler(c client.Client) (*Reconciler, *controllertest.Events) {
	events := &controllertest.Events{}
	return &Reconciler{Client: c, Kit: reconcile.Kit{Recorder: events, Clock: controllertest.FakeClock()}}, events
}

// newPod is a running Pod that opted in to template and was given the session name secret.
func newPod(name, uid, template, secret string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: testNamespace, Name: name, UID: types.UID(uid),
			Labels:      map[string]string{v1alpha1.LabelSessionTemplate: template},
			Annotations: map[string]string{v1alpha1.AnnotationSessionSecret: secret},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// newTemplate is a template whose sessions time out after timeout seconds.
func newTemplate(name string, timeout int32) *v1alpha1.BrowserSessionTemplate {
	return &v1alpha1.BrowserSessionTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, Generation: 1},
		Spec: v1alpha1.BrowserSessionTemplateSpec{Template: v1alpha1.BrowserSessionSpec{
			Timeout: &timeout, DeletionPolicy: v1alpha1.DeletionPolicyDelete,
		}},
	}
}

// sessionFor is the BrowserSession the operator makes for pod from template, as stored.
func sessionFor(pod *corev1.Pod, template *v1alpha1.BrowserSessionTemplate) *v1alpha1.BrowserSession {
	bs := newSession(pod, template, pod.Annotations[v1alpha1.AnnotationSessionSecret])
	bs.UID = types.UID("bs-" + string(pod.UID))
	return bs
}

// reconcilePod runs one pass for the Pod called name.
func reconcilePod(t *testing.T, r *Reconciler, name string) ctrl.Result {
	t.Helper()
	result, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNamespace, Name: name}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return result
}

// sessions lists the BrowserSessions in the test namespace by name.
func sessions(t *testing.T, c client.Client) map[string]v1alpha1.BrowserSession {
	t.Helper()
	list := &v1alpha1.BrowserSessionList{}
	if err := c.List(context.Background(), list, client.InNamespace(testNamespace)); err != nil {
		t.Fatal(err)
	}
	out := map[string]v1alpha1.BrowserSession{}
	for _, bs := range list.Items {
		out[bs.Name] = bs
	}
	return out
}
