package browsersession

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/operator"
)

// restartTargets is the step that sets the session's revision on the pod templates of spec.renewal.restartTargets,
// so that workloads reading the Secret through environment variables restart onto a renewed
// session. A merge patch of one annotation: setting the value it already has changes nothing, so
// a target restarts once per revision, also across operator restarts. The first session needs
// no restart. A missing target is a Warning event, not an error: the session is fine.
func (r *Reconciler) restartTargets(ctx context.Context, p *pass) error {
	bs := p.bs
	if !p.live() || bs.Spec.Renewal == nil || bs.Status.Revision < 2 {
		return nil
	}
	if done, _ := r.restarted.Get(bs.UID); done == bs.Status.Revision {
		return nil
	}
	revision := fmt.Sprint(bs.Status.Revision)
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, v1alpha1.AnnotationSessionRevision, revision)
	failed := false
	for _, t := range bs.Spec.Renewal.RestartTargets {
		var obj client.Object
		switch t.Kind {
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		default:
			continue
		}
		obj.SetNamespace(bs.Namespace)
		obj.SetName(t.Name)
		err := r.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), operator.FieldOwner)
		if apierrors.IsNotFound(err) {
			// Nothing to restart: a workload made later reads the Secret as it is.
			r.Event(bs, corev1.EventTypeWarning, "RestartFailed", "Renew", "%s %s, a restart target, does not exist", t.Kind, t.Name)
			continue
		}
		if err != nil {
			failed = true
			log.FromContext(ctx).Error(err, "Could not restart a workload onto the renewed session", "kind", t.Kind, "name", t.Name)
			r.Event(bs, corev1.EventTypeWarning, "RestartFailed", "Renew", "Could not restart %s %s onto session revision %s: %v", t.Kind, t.Name, revision, err)
		}
	}
	if !failed {
		r.restarted.Set(bs.UID, bs.Status.Revision)
	}
	return nil
}
