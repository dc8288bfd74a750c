package browsersession

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// onStatusConflict is the status write's second chance, for a pass that made or adopted a
// session: its id is known here, and must not wait for a list call to be found again. When
// another pass recorded another session meanwhile, this pass's session is released: record or
// release, never neither.
func (r *Reconciler) onStatusConflict(before, bs *v1alpha1.BrowserSession) reconcile.StatusConflictHook {
	return func(ctx context.Context, conflict error) error {
		if bs.Status.ID == "" || bs.Status.ID == before.Status.ID {
			return conflict
		}
		err := r.patchNewSessionOntoFreshCopy(ctx, before, bs)
		if recorded, ok := errors.AsType[*recordedElsewhereError](err); ok {
			r.releaseUnrecorded(ctx, bs, recorded.id)
		}
		return err
	}
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
	return r.Status().Patch(ctx, fresh, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), operator.FieldOwner)
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
	acct, err := r.account(ctx, bs)
	if err == nil {
		err = r.releaseSession(ctx, bs, acct.Key, mine, releasedAsUnrecorded(recorded))
	}
	if err != nil {
		log.FromContext(ctx).Error(err, "Could not release a session that another pass's session replaced; the sweep will",
			"sessionID", mine, "recorded", recorded)
		r.sweeps.soon(bs.UID, r.Now())
		return
	}
	r.pending.Forget(bs.UID)
}
