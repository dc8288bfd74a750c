package browsercontext

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// SetupWithManager registers the reconciler and the field indexes it lists by (BrowserSessions
// by context name and id, BrowserContexts by id digest). Reconciles are triggered by spec changes
// and annotations a person sets, by changes to or the deletion of the owned Secret, and by
// BrowserSessions that start or stop using the resource's context.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := sessionindex.Register(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.BrowserContext{}, digestField, digestIndex); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BrowserContext{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, reconcile.AnnotationsChangedExcept(v1alpha1.AnnotationContextCreateAttemptedAt)))).
		// Metadata only, as the BrowserSession controller watches them: the cache never holds the
		// data of the operator's Secrets.
		Owns(&corev1.Secret{}, builder.OnlyMetadata, builder.WithPredicates(reconcile.IgnoreCreates)).
		Watches(&v1alpha1.BrowserSession{}, enqueueUsedContexts(mgr.GetClient())).
		WithOptions(reconcile.ControllerOptions(r.MaxConcurrentReconciles)).
		Named("browsercontext").
		Complete(r)
}

// digestField indexes BrowserContexts by status.idDigest, so that a BrowserSession that gives a
// context id finds the BrowserContext that made it without reading any Secret.
const digestField = "status.idDigest"

// digestIndex is the index function of digestField.
func digestIndex(obj client.Object) []string {
	if bc, ok := obj.(*v1alpha1.BrowserContext); ok && bc.Status.IDDigest != "" {
		return []string{bc.Status.IDDigest}
	}
	return nil
}

// enqueueUsedContexts maps BrowserSession events to the BrowserContexts whose context they use,
// by name or by id: a session that stops using one (deleted, or changed to another) may be what
// its deletion waits for. Status changes of a session, the most frequent updates, enqueue nothing.
func enqueueUsedContexts(c client.Reader) handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[ctrl.Request]
	add := func(ctx context.Context, q queue, obj client.Object) {
		key := func(name string) ctrl.Request {
			return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}
		}
		if name := sessionindex.NamedContext(obj); name != "" {
			q.Add(key(name))
		}
		id := sessionindex.ContextIDOf(obj)
		if id == "" {
			return
		}
		list := &v1alpha1.BrowserContextList{}
		if err := c.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{digestField: idDigest(id)}); err != nil {
			// The wait for the sessions looks again every inUseRecheck anyway.
			log.FromContext(ctx).Error(err, "Could not list the BrowserContexts a BrowserSession uses", "browserSession", obj.GetName())
			return
		}
		for _, bc := range list.Items {
			q.Add(key(bc.Name))
		}
	}
	changed := func(e event.UpdateEvent) bool {
		return sessionindex.NamedContext(e.ObjectOld) != sessionindex.NamedContext(e.ObjectNew) ||
			sessionindex.ContextIDOf(e.ObjectOld) != sessionindex.ContextIDOf(e.ObjectNew)
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) { add(ctx, q, e.Object) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			if changed(e) {
				add(ctx, q, e.ObjectOld)
				add(ctx, q, e.ObjectNew)
			}
		},
		DeleteFunc:  func(ctx context.Context, e event.DeleteEvent, q queue) { add(ctx, q, e.Object) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { add(ctx, q, e.Object) },
	}
}
