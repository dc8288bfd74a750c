package browsersession

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// finalizeStatus turns the outcome into conditions, stamps observedGeneration, and patches
// status if anything changed. A Warning event is emitted when the resource becomes stalled,
// once, not on every pass.
func (r *Reconciler) finalizeStatus(ctx context.Context, before, bs *v1alpha1.BrowserSession, result ctrl.Result, err error) (ctrl.Result, error) {
	result, err = reconcile.ApplyOutcome(bs, result, err)
	bs.Status.ObservedGeneration = bs.Generation

	if c := reconcile.TransitionWarning(before.Status.Conditions, bs.Status.Conditions); c != nil {
		r.event(bs, corev1.EventTypeWarning, c.Reason, "Reconcile", "%s", c.Message)
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
	if apierrors.IsConflict(patchErr) && bs.Status.ID != "" && bs.Status.ID != before.Status.ID {
		patchErr = r.patchNewSessionOntoFreshCopy(ctx, before, bs)
		if recorded, ok := errors.AsType[*recordedElsewhereError](patchErr); ok {
			r.releaseUnrecorded(ctx, bs, recorded.id)
		}
	}
	return reconcile.FoldStatusPatchError(result, err, patchErr)
}

// patchNewSessionOntoFreshCopy writes the status of a pass that made or adopted a session onto a
// fresh copy of bs, read from the API server, after the first patch met a conflict (someone
// changed the resource meanwhile, a label for instance): the session id is known here, and must
// not wait for a list call to be found again. A copy whose status names a session other than the
// one this pass started from (none, or the predecessor a renewal replaced) has been handled
// elsewhere, and keeps its status.
func (r *Reconciler) patchNewSessionOntoFreshCopy(ctx context.Context, before, bs *v1alpha1.BrowserSession) error {
	fresh := &v1alpha1.BrowserSession{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(bs), fresh); err != nil {
		return err
	}
	if fresh.Status.ID != before.Status.ID && fresh.Status.ID != bs.Status.ID {
		return &recordedElsewhereError{id: fresh.Status.ID, conflict: apierrors.NewConflict(
			v1alpha1.GroupVersion.WithResource("browsersessions").GroupResource(), bs.Name,
			fmt.Errorf("another pass recorded session %s meanwhile", fresh.Status.ID))}
	}
	if fresh.Status.ID != before.Status.ID || fresh.Generation != bs.Generation {
		return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("browsersessions").GroupResource(), bs.Name,
			errors.New("the resource changed while its session was being created"))
	}
	base := fresh.DeepCopy()
	fresh.Status = bs.Status
	return r.Status().Patch(ctx, fresh, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), FieldOwner)
}

// A recordedElsewhereError is a status write that found another session recorded: two managers
// reconciled the resource at once (a paused old leader, two installs), and the other one's
// session won. It is a conflict, so the pass requeues.
type recordedElsewhereError struct {
	id       string
	conflict error
}

func (e *recordedElsewhereError) Error() string { return e.conflict.Error() }
func (e *recordedElsewhereError) Unwrap() error { return e.conflict }

// releaseUnrecorded releases the session this pass made or adopted when another was recorded in
// its place: record or release, never neither, or it would run and bill with nothing tracking
// it. A failure is logged; the sweep by UID finds the session again.
func (r *Reconciler) releaseUnrecorded(ctx context.Context, bs *v1alpha1.BrowserSession, recorded string) {
	mine := bs.Status.ID
	apiKey, err := r.Credentials.APIKey(ctx, bs.Namespace, bs.Spec.APIKeySecretRef)
	if err == nil {
		err = r.release(ctx, apiKey, mine)
	}
	if err != nil {
		log.FromContext(ctx).Error(err, "Could not release a session that another pass's session replaced; the sweep will",
			"sessionID", mine, "recorded", recorded)
		r.sweeps.soon(bs.UID, r.clock().Now())
		return
	}
	r.pending.forget(bs.UID)
	log.FromContext(ctx).Info("Released a session another pass's session replaced", "sessionID", mine, "recorded", recorded)
	r.event(bs, corev1.EventTypeWarning, "SessionReleased", "Create",
		"Released Browserbase session %s: session %s was recorded for this resource meanwhile (is a second operator running?)", mine, recorded)
}
