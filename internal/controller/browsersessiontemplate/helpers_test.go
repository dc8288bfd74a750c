package browsersessiontemplate

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/reconcile"
)

const testNamespace = "ns"

// newFakeClient is a fake client set up as the manager's, templates' status a subresource too,
// funcs intercepting its calls, holding objs.
func newFakeClient(funcs interceptor.Funcs, objs ...client.Object) client.WithWatch {
	return controllertest.FakeClientBuilder(funcs).WithStatusSubresource(&v1alpha1.BrowserSessionTemplate{}).
		WithObjects(objs...).Build()
}

func newReconciler(c client.Client) *Reconciler {
	return &Reconciler{Client: c, Kit: reconcile.Kit{Recorder: &controllertest.Events{}, Clock: controllertest.FakeClock()}}
}

func newTemplate(name string) *v1alpha1.BrowserSessionTemplate {
	return &v1alpha1.BrowserSessionTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, Generation: 2}}
}

// sessionOf is a BrowserSession made from template, with conditions conds set True.
func sessionOf(name, template string, conds ...string) *v1alpha1.BrowserSession {
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name}}
	if template != "" {
		bs.Labels = map[string]string{v1alpha1.LabelSessionTemplate: template}
	}
	for _, c := range conds {
		bs.Status.Conditions = append(bs.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, Reason: "Test"})
	}
	return bs
}

func reconcileTemplate(t *testing.T, r *Reconciler, name string) {
	t.Helper()
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: testNamespace, Name: name}}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
}
