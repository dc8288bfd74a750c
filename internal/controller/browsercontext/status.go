package browsercontext

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/browsersession"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// finalizeStatus turns the outcome into conditions, stamps observedGeneration, and patches
// status if anything changed. A Warning event is emitted when the resource becomes stalled, or
// begins an event-worthy wait, once, not on every pass.
func (r *Reconciler) finalizeStatus(ctx context.Context, before, bc *v1alpha1.BrowserContext, result ctrl.Result, err error) (ctrl.Result, error) {
	result, err = reconcile.ApplyOutcome(bc, result, err)
	bc.Status.ObservedGeneration = bc.Generation

	if c := reconcile.TransitionWarning(before.Status.Conditions, bc.Status.Conditions); c != nil {
		r.event(bc, corev1.EventTypeWarning, c.Reason, "Reconcile", "%s", c.Message)
	}
	if equality.Semantic.DeepEqual(before.Status, bc.Status) {
		return result, err
	}
	// Against the status read at the start, so the patch holds only status, and with the
	// resourceVersion last seen: a status computed from a stale copy must not overwrite a newer
	// one. A conflict requeues, and the next pass recomputes it (the id is in the Secret).
	base := bc.DeepCopy()
	base.Status = before.Status
	patchErr := r.Status().Patch(ctx, bc, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), browsersession.FieldOwner)
	return reconcile.FoldStatusPatchError(result, err, patchErr)
}
