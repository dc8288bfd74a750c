package browserbaseproject

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// inUseRecheck is how often a project being deleted looks again for the sessions that keep it.
const inUseRecheck = 10 * time.Second

// reconcileDelete lets a project go once no BrowserSession names it: until then they need its key
// to release their sessions. Then its key, queue and Secret watch are dropped.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj object) (ctrl.Result, error) {
	v := viewOf(obj)
	sessions := &v1alpha1.BrowserSessionList{}
	if err := r.List(ctx, sessions, client.MatchingFields{sessionindex.Project: v.ref.IndexValue()}); err != nil {
		return ctrl.Result{}, err
	}
	if v.ref.Kind == v1alpha1.KindClusterBrowserbaseProject && obj.GetAnnotations()[v1alpha1.AnnotationDefaultProject] == "true" {
		// The default project also serves the sessions that name no project and no key.
		unnamed := &v1alpha1.BrowserSessionList{}
		if err := r.List(ctx, unnamed, client.MatchingFields{sessionindex.Project: sessionindex.DefaultProject}); err != nil {
			return ctrl.Result{}, err
		}
		sessions.Items = append(sessions.Items, unnamed.Items...)
	}
	if n := len(sessions.Items); n > 0 {
		return ctrl.Result{}, reconcile.Wait(v1alpha1.ReasonProjectInUse, inUseRecheck,
			"%s is still used by %d BrowserSession(s), for example %s: delete them first (their sessions are released with this project's key)",
			v.ref, n, fmt.Sprintf("%s/%s", sessions.Items[0].Namespace, sessions.Items[0].Name))
	}
	if r.Router != nil {
		if entry, ok := r.Registry.Get(v.ref); ok && entry.Key != "" {
			r.Router.Unroute(entry.Key)
		}
	}
	r.Registry.Delete(v.ref)
	r.Queues.Remove(v.ref.Queue())
	r.Secrets.Release(v.ref)
	return ctrl.Result{}, r.memory.Release(ctx, r.Client, obj, Finalizer)
}
