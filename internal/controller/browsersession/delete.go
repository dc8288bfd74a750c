package browsersession

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// maxSessionLifetime is Browserbase's longest timeout. A session whose expiresAt was never
// recorded has surely ended this long after its resource was created.
const maxSessionLifetime = 6 * time.Hour

// reconcileDelete releases the session (deletionPolicy Delete) and then removes the finalizer,
// which lets Kubernetes delete the resource and, through the owner reference, its Secret.
func (r *Reconciler) reconcileDelete(ctx context.Context, bs *v1alpha1.BrowserSession) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(bs, v1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if err := r.releaseOnDelete(ctx, bs); err != nil {
		return ctrl.Result{}, err
	}
	// The Secret goes with the resource, through its owner reference.
	return ctrl.Result{}, r.memory.Release(ctx, r.Client, bs, v1alpha1.Finalizer)
}

// releaseOnDelete asks Browserbase to end the session, unless there is nothing to end: no
// session was created, the policy is Orphan, release is skipped, or the session has expired
// (then every session this resource made has ended). Any other live session tagged with this
// resource is released too. A session Browserbase no longer knows counts as released.
func (r *Reconciler) releaseOnDelete(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	id := sessionID(bs)
	switch {
	case id == "" && createAttempt(bs) == "":
		return nil
	case bs.Spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan:
		log.FromContext(ctx).Info("Leaving the Browserbase session running (deletionPolicy Orphan)", "sessionID", id)
		r.Event(bs, corev1.EventTypeNormal, "SessionOrphaned", "Delete", "Left Browserbase session %s running (deletionPolicy Orphan)", id)
		return nil
	case bs.Annotations[v1alpha1.AnnotationSkipRelease] == "true":
		log.FromContext(ctx).Info("Not releasing the Browserbase session (annotation "+v1alpha1.AnnotationSkipRelease+")", "sessionID", id)
		r.Event(bs, corev1.EventTypeWarning, "ReleaseSkipped", "Delete",
			"Left Browserbase session %s to run until its timeout (annotation %s)", id, v1alpha1.AnnotationSkipRelease)
		return nil
	case !r.Now().Before(r.latestExpiry(bs)):
		// Nothing can be running any more: no call, so that an unreachable API or a revoked key
		// does not hold the resource.
		return nil
	}
	if id == "" {
		reconcile.MarkProgressing(bs, v1alpha1.ReasonReleasing, "Releasing any session an unfinished create made")
	} else {
		reconcile.MarkProgressing(bs, v1alpha1.ReasonReleasing, fmt.Sprintf("Releasing Browserbase session %s", id))
	}

	r.leaveQueue(bs)
	acct, err := r.account(ctx, bs)
	if err != nil {
		return r.holdUntilExpiry(ctx, bs, err)
	}
	apiKey := acct.Key
	r.Feed.Untrack(apiKey, id)
	if err := r.releaseRenewed(ctx, bs, apiKey); err != nil {
		return r.holdUntilExpiry(ctx, bs, err)
	}
	if unfinishedCreate(bs) {
		// A create was unfinished: release whatever it may have made, once the list can be
		// trusted to show it.
		if wait := r.createGraceLeft(bs); wait > 0 {
			return reconcile.Wait(v1alpha1.ReasonReleasing, wait, "Waiting for Browserbase's session list to show what an unfinished create made")
		}
	}
	if id != "" && !browserbase.SessionStatus(bs.Status.SessionStatus).Ended() {
		if err := r.releaseSession(ctx, bs, apiKey, id, releasedOnDelete()); err != nil {
			return r.holdUntilExpiry(ctx, bs, classify(bs, "release the Browserbase session", err))
		}
	}
	return r.holdUntilExpiry(ctx, bs, r.releaseTagged(ctx, bs, apiKey))
}

// releaseRenewed releases the predecessor of a renewal that is still in its overlap.
func (r *Reconciler) releaseRenewed(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) error {
	prev := bs.Status.PreviousID
	if prev == "" {
		return nil
	}
	if err := r.releaseSession(ctx, bs, apiKey, prev, releasedAsReplaced(bs.Status.ID, "Delete")); err != nil {
		return classify(bs, "release the session a renewal replaced", err)
	}
	bs.Status.PreviousID = ""
	return nil
}

// releaseTagged releases every other live session tagged with bs, so that deleting the resource
// leaves nothing of it running.
func (r *Reconciler) releaseTagged(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) error {
	live, err := r.taggedSessions(ctx, bs, apiKey)
	if err != nil {
		return r.classifyRead(bs, "list the sessions of this resource", err)
	}
	for _, s := range live {
		if s.ID == sessionID(bs) {
			continue // released above; the list may lag
		}
		if err := r.releaseSession(ctx, bs, apiKey, s.ID, releasedAsLeftover("Sweep", "tagged with this resource, which is being deleted")); err != nil {
			return classify(bs, "release the Browserbase session", err)
		}
	}
	return nil
}

// latestExpiry is when every session bs may have made has surely ended: the recorded session's
// expiresAt (the sessions of earlier attempts were made before it, with the same timeout), and,
// while a create is unfinished (a first session's, or a renewal's after the recorded one), the
// longest lifetime after that attempt; with neither, the longest lifetime after its creation.
func (r *Reconciler) latestExpiry(bs *v1alpha1.BrowserSession) time.Time {
	expiry := bs.CreationTimestamp.Add(maxSessionLifetime)
	if bs.Status.ExpiresAt != nil {
		expiry = bs.Status.ExpiresAt.Time
	}
	if attempted, ok := createAttemptedAt(bs); ok && (unfinishedCreate(bs) || bs.Status.ExpiresAt == nil) {
		expiry = latest(expiry, attempted.Add(maxSessionLifetime))
	}
	return expiry
}

// latest is the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// holdUntilExpiry decides what a failed release does to the finalizer: it is held only until the
// session's expiry, whatever the error, since after that nothing can leak, and a resource that
// can never be deleted is worse than an orphan. Before that, transient errors are retried with
// backoff, and errors only a person can fix (a revoked key) stall the resource, looked at again
// when the fix can be seen without a Browserbase call (a Secret appearing), else at expiry:
// retrying a rejected key would spend the user's quota for nothing.
func (r *Reconciler) holdUntilExpiry(ctx context.Context, bs *v1alpha1.BrowserSession, err error) error {
	if err == nil {
		return nil
	}
	remaining := r.latestExpiry(bs).Sub(r.Now())
	if remaining <= 0 {
		log.FromContext(ctx).Info("Could not release the Browserbase session, but it has expired; removing the finalizer",
			"sessionID", sessionID(bs), "error", err.Error())
		r.Event(bs, corev1.EventTypeWarning, "ReleaseSkipped", "Delete",
			"Could not release Browserbase session %s (%v), but it has expired; deleting the resource", sessionID(bs), err)
		return nil
	}
	explain := func(why string) string {
		return fmt.Sprintf("Cannot release Browserbase session %s, so deletion waits until the session expires: %s. "+
			"To delete now and leave the session to run until its timeout: kubectl annotate browsersession %s %s=true",
			sessionID(bs), why, bs.Name, v1alpha1.AnnotationSkipRelease)
	}
	if wait, ok := errors.AsType[*reconcile.WaitError](err); ok {
		wait.Message = explain(wait.Message)
		wait.After = min(wait.After, remaining+time.Second)
		return wait
	}
	stall, isStall := errors.AsType[*reconcile.StallError](err)
	if !isStall {
		return err
	}
	stall.Message = explain(stall.Message)
	if stall.Recheck == 0 || stall.Recheck > remaining {
		stall.Recheck = remaining + time.Second
	}
	return stall
}
