package browsersession

import (
	"context"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/project"
)

// sessionsUsingProject maps a project object to the BrowserSessions that use it: those that name
// it, and for the default ClusterBrowserbaseProject those that name no project and no key.
func (r *Reconciler) sessionsUsingProject(ctx context.Context, o client.Object) []ctrl.Request {
	ref := project.Ref{Kind: v1alpha1.KindBrowserbaseProject, Namespace: o.GetNamespace(), Name: o.GetName()}
	values := []string{}
	if _, cluster := o.(*v1alpha1.ClusterBrowserbaseProject); cluster {
		ref = project.Ref{Kind: v1alpha1.KindClusterBrowserbaseProject, Name: o.GetName()}
		if o.GetAnnotations()[v1alpha1.AnnotationDefaultProject] == "true" {
			values = append(values, sessionindex.DefaultProject)
		}
	}
	values = append(values, ref.IndexValue())
	var out []ctrl.Request
	for _, v := range values {
		list := &v1alpha1.BrowserSessionList{}
		if err := r.List(ctx, list, client.MatchingFields{sessionindex.Project: v}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Could not list the BrowserSessions that use a project", "project", ref.String())
			return nil
		}
		for _, bs := range list.Items {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&bs)})
		}
	}
	return out
}

// projectChanged passes the project changes its sessions care about: a new spec once the
// project controller has published it (status.observedGeneration moved: the sessions must not
// read the registry before it does), the default mark, and a change of readiness (its message
// says why sessions wait). Not the counts a project refreshes in its status every few seconds.
var projectChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		if !equality.Semantic.DeepEqual(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()) {
			return true
		}
		return readyOf(e.ObjectOld) != readyOf(e.ObjectNew)
	},
}

// readyOf is what of a project's status its sessions follow: the generation it was computed
// for, and its Ready condition's status and message.
func readyOf(o client.Object) [3]string {
	var st *v1alpha1.BrowserbaseProjectStatus
	switch p := o.(type) {
	case *v1alpha1.BrowserbaseProject:
		st = &p.Status
	case *v1alpha1.ClusterBrowserbaseProject:
		st = &p.Status
	default:
		return [3]string{}
	}
	out := [3]string{strconv.FormatInt(st.ObservedGeneration, 10)}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady); c != nil {
		out[1], out[2] = string(c.Status), c.Message
	}
	return out
}
