package browsersession

import (
	"context"
	"errors"
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

// renewSession makes the successor of p.bs's session, current (nil when it has ended or is
// unknown to Browserbase), and returns it. While current is still usable, a failure to make the
// successor leaves it serving: Ready stays True, the failure is a Warning event, and the renewal
// is tried again.
func (r *Reconciler) renewSession(ctx context.Context, p *pass, current *browserbase.Session) (*browserbase.Session, error) {
	bs, apiKey := p.bs, p.apiKey
	predecessor := bs.Status.ID
	serving := current != nil && !current.Status.Ended()
	if ctxRef := persistedContext(bs); ctxRef != "" {
		if serving {
			// One session at a time saves into a context: the predecessor goes first, so that
			// its state is there for the successor to load.
			return nil, r.endForContext(ctx, bs, apiKey, current, ctxRef)
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
				return nil, r.keepServing(bs, err)
			}
			return nil, err
		}
		bs.Status.PreviousID = ""
	}

	successor, err := r.createOnce(ctx, p)
	if err != nil {
		if serving {
			return nil, r.keepServing(bs, err)
		}
		return nil, err
	}
	if successor.ID == predecessor {
		return successor, nil
	}
	if serving {
		bs.Status.PreviousID = predecessor
	}
	bs.Status.Revision = max(bs.Status.Revision, 1) + 1
	now := metav1.NewTime(r.Now().UTC().Truncate(time.Second))
	bs.Status.LastRotationTime = &now
	metrics.SessionsRenewed.Inc()
	log.FromContext(ctx).Info("Renewed the Browserbase session", "sessionID", successor.ID, "previousID", predecessor, "revision", bs.Status.Revision)
	r.Event(bs, corev1.EventTypeNormal, "SessionRenewed", "Renew", "Browserbase session %s replaces session %s (revision %d)",
		successor.ID, predecessor, bs.Status.Revision)
	return successor, nil
}

// keepServing turns a failure to make a successor into a wait that leaves Ready as it is: the
// predecessor still serves, and until it ends the renewal is tried again, at the wait Browserbase
// asked for, or else at the next poll. A problem only a person can fix is a Warning event now,
// and a Stalled condition if the predecessor ends before it is fixed.
func (r *Reconciler) keepServing(bs *v1alpha1.BrowserSession, err error) error {
	if wait, ok := errors.AsType[*reconcile.WaitError](err); ok {
		wait.KeepReady = true
		return wait
	}
	reason := v1alpha1.ReasonBrowserbaseUnavailable
	if stall, ok := errors.AsType[*reconcile.StallError](err); ok {
		reason = stall.Reason
	}
	r.Event(bs, corev1.EventTypeWarning, "RenewalFailed", "Renew",
		"Could not create the successor of Browserbase session %s, which keeps serving: %v", bs.Status.ID, err)
	wait := reconcile.Wait(reason, reconcile.Jitter(max(r.PollInterval, time.Second)),
		"Could not create the successor of Browserbase session %s: %v", bs.Status.ID, err)
	wait.KeepReady = true
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
func (r *Reconciler) endForContext(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, current *browserbase.Session, ctxRef string) error {
	if err := r.releaseSession(ctx, bs, apiKey, current.ID, releasedForContext(ctxRef)); err != nil {
		return r.keepServing(bs, classify(bs, "release the session before its successor", err))
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
