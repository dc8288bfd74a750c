package browsersession

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	if err := r.releaseSession(ctx, bs); err != nil {
		return ctrl.Result{}, err
	}
	base := bs.DeepCopy()
	controllerutil.RemoveFinalizer(bs, v1alpha1.Finalizer)
	if err := r.Patch(ctx, bs, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, err
	}
	// The Secret goes with the resource, through its owner reference.
	r.secretDigests.forget(types.NamespacedName{Namespace: bs.Namespace, Name: secretName(bs)})
	return ctrl.Result{}, nil
}

// releaseSession asks Browserbase to end the session, unless there is nothing to end: no
// session was created, it has already ended, or the policy is Orphan. A session Browserbase no
// longer knows counts as released.
func (r *Reconciler) releaseSession(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	id := sessionID(bs)
	switch {
	case id == "" && createAttempt(bs) == "":
		return nil
	case bs.Spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan:
		log.FromContext(ctx).Info("Leaving the Browserbase session running (deletionPolicy Orphan)", "sessionID", id)
		r.event(bs, corev1.EventTypeNormal, "SessionOrphaned", "Delete", "Left Browserbase session %s running (deletionPolicy Orphan)", id)
		return nil
	case bs.Annotations[v1alpha1.AnnotationSkipRelease] == "true":
		log.FromContext(ctx).Info("Not releasing the Browserbase session (annotation "+v1alpha1.AnnotationSkipRelease+")", "sessionID", id)
		r.event(bs, corev1.EventTypeWarning, "ReleaseSkipped", "Delete",
			"Left Browserbase session %s to run until its timeout (annotation %s)", id, v1alpha1.AnnotationSkipRelease)
		return nil
	case id != "" && browserbase.SessionStatus(bs.Status.SessionStatus).Ended():
		return nil
	}
	if id == "" {
		reconcile.MarkProgressing(bs, v1alpha1.ReasonReleasing, "Releasing any session an unfinished create made")
	} else {
		reconcile.MarkProgressing(bs, v1alpha1.ReasonReleasing, fmt.Sprintf("Releasing Browserbase session %s", id))
	}

	apiKey, err := r.Credentials.APIKey(ctx, bs.Namespace, bs.Spec.APIKeySecretRef)
	if err != nil {
		return r.holdUntilExpiry(ctx, bs, err)
	}
	if id == "" {
		// A create was unfinished: release whatever it may have made, once the list can be
		// trusted to show it.
		if wait := r.createGraceLeft(bs); wait > 0 {
			return reconcile.Wait(v1alpha1.ReasonReleasing, wait, "Waiting for Browserbase's session list to show what an unfinished create made")
		}
		return r.holdUntilExpiry(ctx, bs, r.releaseTagged(ctx, bs, apiKey))
	}
	_, err = r.Browserbase.ReleaseSession(ctx, apiKey, id)
	switch {
	case err == nil:
		log.FromContext(ctx).Info("Released Browserbase session", "sessionID", id)
		r.event(bs, corev1.EventTypeNormal, "SessionReleased", "Delete", "Released Browserbase session %s", id)
		return nil
	case browserbase.IsNotFound(err):
		return nil
	default:
		return r.holdUntilExpiry(ctx, bs, classify(bs, "release the Browserbase session", err))
	}
}

// releaseTagged releases every live session tagged with the token of bs's last create attempt.
func (r *Reconciler) releaseTagged(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) error {
	live, err := r.taggedSessions(ctx, bs, apiKey)
	if err != nil {
		return classify(bs, "list the sessions of this resource", err)
	}
	for _, s := range live {
		if _, err := r.Browserbase.ReleaseSession(ctx, apiKey, s.ID); err != nil && !browserbase.IsNotFound(err) {
			return classify(bs, "release the Browserbase session", err)
		}
		r.event(bs, corev1.EventTypeNormal, "SessionReleased", "Delete", "Released Browserbase session %s", s.ID)
	}
	return nil
}

// holdUntilExpiry decides what a failed release does to the finalizer. Transient errors are
// retried. For errors only a person can fix (credentials gone with the namespace, a revoked
// key), the finalizer is held, and the resource stalled, only until the session's expiresAt:
// after that nothing can leak, and a resource that can never be deleted is worse than an orphan.
func (r *Reconciler) holdUntilExpiry(ctx context.Context, bs *v1alpha1.BrowserSession, err error) error {
	stall, isStall := errors.AsType[*reconcile.StallError](err)
	if !isStall {
		return err
	}
	expiry := bs.CreationTimestamp.Add(maxSessionLifetime)
	if attempted, ok := createAttemptedAt(bs); ok {
		expiry = attempted.Add(maxSessionLifetime)
	}
	if bs.Status.ExpiresAt != nil {
		expiry = bs.Status.ExpiresAt.Time
	}
	remaining := expiry.Sub(r.clock().Now())
	if remaining <= 0 {
		log.FromContext(ctx).Info("Could not release the Browserbase session, but it has expired; removing the finalizer",
			"sessionID", sessionID(bs), "reason", stall.Reason)
		r.event(bs, corev1.EventTypeWarning, "ReleaseSkipped", "Delete",
			"Could not release Browserbase session %s (%s), but it has expired; deleting the resource", sessionID(bs), stall.Reason)
		return nil
	}
	stall.Message = fmt.Sprintf("Cannot release Browserbase session %s, so deletion waits until the session expires: %s. "+
		"To delete now and leave the session to run until its timeout: kubectl annotate browsersession %s %s=true",
		sessionID(bs), stall.Message, bs.Name, v1alpha1.AnnotationSkipRelease)
	// Look again when the fix can be seen without a Browserbase call (a Secret appearing), else
	// only at expiry: retrying a rejected key would spend the user's quota for nothing.
	if stall.Recheck == 0 || stall.Recheck > remaining {
		stall.Recheck = remaining + time.Second
	}
	return stall
}
