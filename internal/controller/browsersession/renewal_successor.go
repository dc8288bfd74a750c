package browsersession

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// A Browserbase session lives at most six hours and cannot be extended, so a resource that must
// keep a session (spec.renewal) gets a new one, its successor, and the same Secret gets the
// successor's credentials. The successor is made by createOnce, under its own attempt token,
// with the predecessor's id beside it: a crash at any point is resolved like any unfinished
// create, and the predecessor is never adopted as its own successor nor released by a sweep
// until its overlap is over. Status records both ids in the one write that makes the successor
// current (status.id, status.previousId), so the predecessor's release survives a restart.

// contextSyncDelay is how long after a session that persists into a context has ended its
// successor waits, so that it loads the saved state (Browserbase's examples wait 5s).
const contextSyncDelay = 5 * time.Second

// renewSession makes the successor of p.bs's session, current (nil when Browserbase no longer
// knows it), and returns it. While current is still usable, a failure to make the successor
// leaves it serving: Ready stays True, the failure is a Warning event, and the renewal is tried
// again no later than current's expiry. Once current has ended, Ready is False until the
// successor runs.
func (r *Reconciler) renewSession(ctx context.Context, p *pass, current *browserbase.Session) (*browserbase.Session, error) {
	bs, apiKey := p.bs, p.apiKey
	predecessor := bs.Status.ID
	serving := current != nil && !current.Status.Ended()
	if !serving {
		r.reportEnded(bs, current)
	}
	if ctxRef := persistedContext(bs); ctxRef != "" {
		if serving {
			// One session at a time saves into a context: the predecessor goes first, so that
			// its state is there for the successor to load.
			return nil, r.endForContext(ctx, p, current, ctxRef)
		}
		if wait := r.contextSyncLeft(bs, current); wait > 0 {
			return nil, reconcile.Wait(v1alpha1.ReasonRenewing, wait,
				"Session %s has ended; its successor is created in %s, once its state is saved into context %s", predecessor, wait.Round(time.Second), ctxRef)
		}
	}

	if older := bs.Status.PreviousID; older != "" {
		// The last renewal's predecessor is still in its overlap (an overlap longer than a
		// session's life before its renewal): it goes now, so that at most two sessions run and
		// none drops out of status unreleased.
		if err := r.releaseSession(ctx, bs, apiKey, older, releasedAsReplaced(predecessor, "Renew")); err != nil {
			err = classify(bs, "release the session an earlier renewal replaced", err)
			if serving {
				return nil, r.keepServing(p, current, err)
			}
			return nil, err
		}
		bs.Status.PreviousID = ""
	}

	successor, err := r.createOnce(ctx, p)
	if err != nil {
		if serving {
			return nil, r.keepServing(p, current, err)
		}
		return nil, err
	}
	r.promoteSuccessor(ctx, p, predecessor, current, successor)
	return successor, nil
}

// resolveAbandonedRenewal resolves a successor's create left unfinished when spec.renewal was
// turned off: the session it made (if any) is the successor it was made to be, already paid
// for, and is adopted as such; when it made none, the attempt is over and nothing is created.
func (r *Reconciler) resolveAbandonedRenewal(ctx context.Context, p *pass, current *browserbase.Session) (*browserbase.Session, error) {
	bs := p.bs
	serving := current != nil && !current.Status.Ended()
	successor, err := r.resolveUnfinishedCreate(ctx, bs, p.apiKey)
	if err != nil {
		if serving {
			return nil, r.keepServing(p, current, err)
		}
		return nil, err
	}
	if successor == nil {
		if err := r.clearCreateAttempt(ctx, bs); err != nil {
			return nil, err
		}
		return current, nil
	}
	r.promoteSuccessor(ctx, p, bs.Status.ID, current, successor)
	return successor, nil
}

// promoteSuccessor makes successor the resource's session, one revision on; a predecessor that
// still serves becomes status.previousId, released once consumers have had the successor for
// the overlap (predecessor.go). lastRotationTime is set when the Secret holds the successor.
func (r *Reconciler) promoteSuccessor(ctx context.Context, p *pass, predecessor string, current, successor *browserbase.Session) {
	bs := p.bs
	if successor.ID == predecessor {
		return
	}
	if current != nil && !current.Status.Ended() {
		bs.Status.PreviousID = predecessor
		p.predecessor = current
	}
	bs.Status.Revision = max(bs.Status.Revision, 1) + 1
	bs.Status.LastRotationTime = nil
	metrics.SessionsRenewed.Inc()
	log.FromContext(ctx).Info("Renewed the Browserbase session", "sessionID", successor.ID, "previousID", predecessor, "revision", bs.Status.Revision)
	r.Event(bs, corev1.EventTypeNormal, "SessionRenewed", "Renew", "Browserbase session %s replaces session %s (revision %d)",
		successor.ID, predecessor, bs.Status.Revision)
}

// reportEnded puts an ended (or forgotten) session's end into status, and Ready False: no live
// session backs the Secret until the successor runs.
func (r *Reconciler) reportEnded(bs *v1alpha1.BrowserSession, current *browserbase.Session) {
	if current != nil {
		copySessionToStatus(bs, current)
	}
	reconcile.MarkProgressing(bs, v1alpha1.ReasonRenewing, fmt.Sprintf(
		"Browserbase session %s has ended (%s); spec.renewal replaces it", bs.Status.ID, bs.Status.SessionStatus))
}

// keepServing turns a failure to make a successor into a wait that leaves Ready as it is: the
// predecessor, current, still serves, and the renewal is tried again at the wait Browserbase
// asked for, or else at the next poll, but no later than current's expiry, when Ready must turn
// False if it has ended. Every failed try of a create call is a Warning event; a problem only a
// person can fix becomes a Stalled condition if the predecessor ends before it is fixed.
func (r *Reconciler) keepServing(p *pass, current *browserbase.Session, err error) error {
	bs := p.bs
	wait, isWait := errors.AsType[*reconcile.WaitError](err)
	if !isWait || p.createCalled {
		r.Event(bs, corev1.EventTypeWarning, "RenewalFailed", "Renew",
			"Could not create the successor of Browserbase session %s, which keeps serving: %v", bs.Status.ID, err)
	}
	if !isWait {
		reason := v1alpha1.ReasonBrowserbaseUnavailable
		if stall, ok := errors.AsType[*reconcile.StallError](err); ok {
			reason = stall.Reason
		}
		wait = reconcile.Wait(reason, reconcile.Jitter(max(r.PollInterval, time.Second)),
			"Could not create the successor of Browserbase session %s: %v", bs.Status.ID, err)
	}
	wait.KeepReady = true
	if unfinishedCreate(bs) {
		// A create whose outcome is unknown is resolved once its grace period is over, not a
		// poll interval later: a short renewBefore has no time to lose.
		wait.After = min(wait.After, max(r.createGraceLeft(bs)+time.Second, time.Second))
	}
	if !current.ExpiresAt.IsZero() {
		// A second past expiry, so the answer is already TIMED_OUT.
		wait.After = min(wait.After, max(current.ExpiresAt.Sub(r.Now())+time.Second, time.Second))
	}
	return wait
}

// persistedContext is the context bs's sessions save their state into, "" when they do not.
func persistedContext(bs *v1alpha1.BrowserSession) string {
	s := bs.Spec.BrowserSettings
	if s == nil || s.Context == nil || s.Context.Persist == nil || !*s.Context.Persist {
		return ""
	}
	if s.Context.Name != "" {
		return s.Context.Name
	}
	return s.Context.ID
}

// endForContext releases current, a session that persists into a context, at its renewal time:
// its successor is made once it has ended and its state has had time to be saved. Ready turns
// False for that gap; the README's renewal section explains the trade-off.
func (r *Reconciler) endForContext(ctx context.Context, p *pass, current *browserbase.Session, ctxRef string) error {
	bs := p.bs
	if err := r.releaseSession(ctx, bs, p.apiKey, current.ID, releasedForContext(ctxRef)); err != nil {
		return r.keepServing(p, current, classify(bs, "release the session before its successor", err))
	}
	now := metav1.NewTime(r.Now().UTC().Truncate(time.Second))
	bs.Status.SessionStatus = string(browserbase.StatusCompleted)
	bs.Status.EndedAt = &now
	return reconcile.Wait(v1alpha1.ReasonRenewing, contextSyncDelay,
		"Released session %s so that its state is saved into context %s; its successor follows", current.ID, ctxRef)
}

// contextSyncLeft is how long the successor of an ended session that persisted into a context
// still waits for the saved state.
func (r *Reconciler) contextSyncLeft(bs *v1alpha1.BrowserSession, current *browserbase.Session) time.Duration {
	var ended time.Time
	switch {
	case current != nil && current.EndedAt != nil:
		ended = *current.EndedAt
	case bs.Status.EndedAt != nil:
		ended = bs.Status.EndedAt.Time
	default:
		return 0
	}
	return ended.Add(contextSyncDelay).Sub(r.Now())
}
