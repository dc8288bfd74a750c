package browsercontext

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// ContextNameField is the field index of BrowserSessions by the BrowserContext they name
// (spec.browserSettings.context.name), registered by IndexSessionsByContext.
const ContextNameField = "spec.browserSettings.context.name"

// IndexSessionsByContext registers ContextNameField with indexer. SetupWithManager calls it; a
// manager accepts each index once.
func IndexSessionsByContext(ctx context.Context, indexer client.FieldIndexer) error {
	return indexer.IndexField(ctx, &v1alpha1.BrowserSession{}, ContextNameField, indexContextName)
}

// indexContextName is the index function of ContextNameField.
func indexContextName(obj client.Object) []string {
	if name := namedContext(obj); name != "" {
		return []string{name}
	}
	return nil
}

// namedContext is the BrowserContext a BrowserSession names, "" for none.
func namedContext(obj client.Object) string {
	bs, ok := obj.(*v1alpha1.BrowserSession)
	if !ok || bs.Spec.BrowserSettings == nil || bs.Spec.BrowserSettings.Context == nil {
		return ""
	}
	return bs.Spec.BrowserSettings.Context.Name
}

// enqueueNamedContexts maps BrowserSession events to the BrowserContexts they name: a session
// that stops naming one (deleted, or changed to another) may be what its deletion waits for.
// Status changes of a session, the most frequent updates, enqueue nothing.
func enqueueNamedContexts() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[ctrlreconcile.Request]
	add := func(q queue, obj client.Object) {
		if name := namedContext(obj); name != "" {
			q.Add(ctrlreconcile.Request{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}})
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q queue) { add(q, e.Object) },
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q queue) {
			if namedContext(e.ObjectOld) != namedContext(e.ObjectNew) {
				add(q, e.ObjectOld)
				add(q, e.ObjectNew)
			}
		},
		DeleteFunc:  func(_ context.Context, e event.DeleteEvent, q queue) { add(q, e.Object) },
		GenericFunc: func(_ context.Context, e event.GenericEvent, q queue) { add(q, e.Object) },
	}
}
