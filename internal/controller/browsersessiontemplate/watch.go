package browsersessiontemplate

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// SetupWithManager registers the reconciler. Reconciles are triggered by spec changes of a
// template, and by its sessions (BrowserSessions labelled with its name) when they come, go, or
// change what they count as.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BrowserSessionTemplate{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.BrowserSession{}, handler.EnqueueRequestsFromMapFunc(templateOf),
			builder.WithPredicates(stateChanged)).
		WithOptions(reconcile.ControllerOptions(r.MaxConcurrentReconciles)).
		Named("browsersessiontemplate").
		Complete(r)
}

// templateOf maps a BrowserSession to the template it was made from, when it was.
func templateOf(_ context.Context, obj client.Object) []ctrl.Request {
	name := obj.GetLabels()[v1alpha1.LabelSessionTemplate]
	if name == "" {
		return nil
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}

// stateChanged passes the updates of a session that change its template or what it counts as;
// creates and deletes of a template's sessions always pass. (The map function is given the old
// and the new object, so a session moved to another template recounts both.)
var stateChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	older, okOld := e.ObjectOld.(*v1alpha1.BrowserSession)
	newer, okNew := e.ObjectNew.(*v1alpha1.BrowserSession)
	if !okOld || !okNew {
		return true
	}
	return older.Labels[v1alpha1.LabelSessionTemplate] != newer.Labels[v1alpha1.LabelSessionTemplate] ||
		state(older) != state(newer)
}}
