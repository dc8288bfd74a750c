package browsersession

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// finalizeStatus turns the outcome into conditions, stamps observedGeneration, and patches
// status if anything changed. A Warning event is emitted when the resource becomes stalled,
// once, not on every pass.
func (r *Reconciler) finalizeStatus(ctx context.Context, before, bs *v1alpha1.BrowserSession, result ctrl.Result, err error) (ctrl.Result, error) {
	result, err = reconcile.ApplyOutcome(bs, result, err)
	bs.Status.ObservedGeneration = bs.Generation

	if newly := reconcile.StalledTransition(before.Status.Conditions, bs.Status.Conditions); newly != nil {
		r.event(bs, corev1.EventTypeWarning, newly.Reason, "Reconcile", "%s", newly.Message)
	} else if waiting := reconcile.WaitTransition(before.Status.Conditions, bs.Status.Conditions); waiting != nil {
		r.event(bs, corev1.EventTypeWarning, waiting.Reason, "Reconcile", "%s", waiting.Message)
	}
	if equality.Semantic.DeepEqual(before.Status, bs.Status) {
		return result, err
	}
	// Patch status against the status read at the start, so the patch holds only status, and
	// with the resourceVersion last seen: a status computed from a stale copy (a lagging cache)
	// must not overwrite a newer one. A conflict requeues, and the next pass recomputes it.
	base := bs.DeepCopy()
	base.Status = before.Status
	patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	patchErr := r.Status().Patch(ctx, bs, patch, FieldOwner)
	if apierrors.IsConflict(patchErr) && before.Status.ID == "" && bs.Status.ID != "" {
		patchErr = r.patchNewSessionOntoFreshCopy(ctx, bs)
	}
	if patchErr != nil && !apierrors.IsNotFound(patchErr) {
		if err == nil && apierrors.IsConflict(patchErr) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		if err == nil {
			err = patchErr
		}
	}
	return result, err
}

// patchNewSessionOntoFreshCopy writes the status of a pass that made or adopted a session onto a
// fresh copy of bs, read from the API server, after the first patch met a conflict (someone
// changed the resource meanwhile, a label for instance): the session id is known here, and must
// not wait for a list call to be found again. A copy whose status already names a session has
// been handled elsewhere, and keeps its status.
func (r *Reconciler) patchNewSessionOntoFreshCopy(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	fresh := &v1alpha1.BrowserSession{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(bs), fresh); err != nil {
		return err
	}
	if fresh.Status.ID != "" || fresh.Generation != bs.Generation {
		return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("browsersessions").GroupResource(), bs.Name,
			errors.New("the resource changed while its session was being created"))
	}
	base := fresh.DeepCopy()
	fresh.Status = bs.Status
	return r.Status().Patch(ctx, fresh, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), FieldOwner)
}
