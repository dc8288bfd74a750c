package browserbaseproject

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// inUseRecheck is how often a project being deleted looks again for the sessions that keep it.
const inUseRecheck = 10 * time.Second

// reconcileDelete lets a project go once no BrowserSession names it: until then they need its key
// to release their sessions. Then its key, queue and Secret watch are dropped.
func (r *Reconciler) reconcileDelete(ctx context.Context, obj object) (ctrl.Result, error) {
	v := viewOf(obj)
	sessions, err := r.sessionsUsing(ctx, obj, v)
	if err != nil {
		return ctrl.Result{}, err
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

// sessionsUsing lists the BrowserSessions that use the project: those that name it, and for the
// default ClusterBrowserbaseProject those that name no project and no key.
func (r *Reconciler) sessionsUsing(ctx context.Context, obj object, v view) (*v1alpha1.BrowserSessionList, error) {
	sessions := &v1alpha1.BrowserSessionList{}
	if err := r.List(ctx, sessions, client.MatchingFields{sessionindex.Project: v.ref.IndexValue()}); err != nil {
		return nil, err
	}
	if v.ref.Kind == v1alpha1.KindClusterBrowserbaseProject && obj.GetAnnotations()[v1alpha1.AnnotationDefaultProject] == "true" {
		unnamed := &v1alpha1.BrowserSessionList{}
		if err := r.List(ctx, unnamed, client.MatchingFields{sessionindex.Project: sessionindex.DefaultProject}); err != nil {
			return nil, err
		}
		sessions.Items = append(sessions.Items, unnamed.Items...)
	}
	return sessions, nil
}

// projectChangeRecheck is how often a project held back by a key of another project looks again
// (from the cache: no call) for the sessions that hold it back.
const projectChangeRecheck = 30 * time.Second

// guardProjectChange refuses a key that now belongs to another Browserbase project than the one
// status names while sessions use the project: their sessions live in the old project, and could
// no longer be read or released with the new key (they would run on, unseen, until they time
// out). Rotating a key within the project, or changing projects with no session in use, passes.
func (r *Reconciler) guardProjectChange(ctx context.Context, obj object, v view, found browserbase.Project) error {
	was := v.status.ProjectID
	if was == "" || found.ID == was {
		return nil
	}
	sessions, err := r.sessionsUsing(ctx, obj, v)
	if err != nil {
		return err
	}
	var inOld []string
	for _, bs := range sessions.Items {
		if bs.Status.ProjectID == was && bs.Status.ID != "" {
			inOld = append(inOld, bs.Namespace+"/"+bs.Name)
		}
	}
	if len(inOld) == 0 {
		return nil
	}
	return &reconcile.StallError{
		Reason: v1alpha1.ReasonProjectChanged,
		Message: fmt.Sprintf("The API key in Secret %s/%s belongs to Browserbase project %s, but %d BrowserSession(s) of this project "+
			"have sessions in project %s (for example %s), which that key can neither read nor release: put project %s's key back, "+
			"or delete those BrowserSessions first", v.secretNamespace, v.spec.APIKeySecretRef.Name, found.ID, len(inOld), was,
			inOld[0], was),
		Recheck: projectChangeRecheck,
	}
}
