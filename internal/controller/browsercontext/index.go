package browsercontext

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/browserbase/session-operator/internal/controller/sessionindex"
)

// enqueueNamedContexts maps BrowserSession events to the BrowserContexts they name: a session
// that stops naming one (deleted, or changed to another) may be what its deletion waits for.
// Status changes of a session, the most frequent updates, enqueue nothing.
func enqueueNamedContexts() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[ctrlreconcile.Request]
	add := func(q queue, obj client.Object) {
		if name := sessionindex.NamedContext(obj); name != "" {
			q.Add(ctrlreconcile.Request{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}})
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q queue) { add(q, e.Object) },
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q queue) {
			if sessionindex.NamedContext(e.ObjectOld) != sessionindex.NamedContext(e.ObjectNew) {
				add(q, e.ObjectOld)
				add(q, e.ObjectNew)
			}
		},
		DeleteFunc:  func(_ context.Context, e event.DeleteEvent, q queue) { add(q, e.Object) },
		GenericFunc: func(_ context.Context, e event.GenericEvent, q queue) { add(q, e.Object) },
	}
}
