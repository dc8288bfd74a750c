package browsersession

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
)

// Every release of a session goes through releaseSession, whatever its reason: the intent is
// logged before the call (a manager killed during it leaves the record of why the session
// ended), and the event and the metric follow a release that succeeded.

// A releaseReason says why a session is released.
type releaseReason struct {
	// metric is the reason label of browserbase_sessions_released_total.
	metric string
	// eventType and event are the Kubernetes event's type and reason; action its action.
	eventType, event, action string
	// why is said in the log line and, after "Released Browserbase session <id>", in the event.
	why string
}

// The reasons a session is released.
func releasedOnDelete() releaseReason {
	return releaseReason{metric: "delete", eventType: corev1.EventTypeNormal, event: "SessionReleased", action: "Delete"}
}

// releasedAsReplaced: a renewal's successor serves instead, its overlap is over.
func releasedAsReplaced(successor, action string) releaseReason {
	return releaseReason{metric: "renewed", eventType: corev1.EventTypeNormal, event: "SessionReleased", action: action,
		why: fmt.Sprintf(", which session %s replaced", successor)}
}

// releasedForContext: one session at a time saves into a context, so the predecessor ends first.
func releasedForContext(ctxRef string) releaseReason {
	return releaseReason{metric: "context-save", eventType: corev1.EventTypeNormal, event: "SessionReleased", action: "Renew",
		why: fmt.Sprintf(" so that its state is saved into context %s before its successor loads it", ctxRef)}
}

// releasedAsLeftover: tagged with the resource, but not its session (a sweep, an unfinished
// create resolved, a delete).
func releasedAsLeftover(action, why string) releaseReason {
	return releaseReason{metric: "leftover", eventType: corev1.EventTypeWarning, event: "SessionReleased", action: action, why: ", " + why}
}

// releasedAsUnusable: its connect details are lost, so no workload could use it.
func releasedAsUnusable(lost error) releaseReason {
	return releaseReason{metric: "unusable", eventType: corev1.EventTypeWarning, event: "SessionReplaced", action: "Replace",
		why: fmt.Sprintf(": %v, so no workload could use it; creating a new session", lost)}
}

// releasedAsUnrecorded: another pass recorded another session for the resource meanwhile.
func releasedAsUnrecorded(recorded string) releaseReason {
	return releaseReason{metric: "unrecorded", eventType: corev1.EventTypeWarning, event: "SessionReleased", action: "Create",
		why: fmt.Sprintf(": session %s was recorded for this resource meanwhile (is a second operator running?)", recorded)}
}

// releaseSession asks Browserbase to end session id of bs, for reason. A session Browserbase no
// longer knows, or that has ended (some refusals to release mean just that), counts as released.
func (r *Reconciler) releaseSession(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, id string, reason releaseReason) error {
	log.FromContext(ctx).Info("Releasing Browserbase session", "sessionID", id, "reason", reason.metric, "why", reason.why)
	if err := r.callRelease(ctx, apiKey, id); err != nil {
		return fmt.Errorf("releasing session %s: %w", id, err)
	}
	r.Feed.Untrack(apiKey, id)
	metrics.SessionsReleased.WithLabelValues(reason.metric).Inc()
	r.Event(bs, reason.eventType, reason.event, reason.action, "Released Browserbase session %s%s", id, reason.why)
	return nil
}

// callRelease is the release call, with the refusals that mean "already ended" counted as done.
func (r *Reconciler) callRelease(ctx context.Context, apiKey browserbase.Sensitive, id string) error {
	_, err := r.Browserbase.ReleaseSession(ctx, apiKey, id)
	switch {
	case err == nil, browserbase.IsNotFound(err):
		return nil
	case browserbase.IsRejected(err):
		sess, getErr := r.Browserbase.GetSession(ctx, apiKey, id)
		if browserbase.IsNotFound(getErr) || getErr == nil && sess.Status.Ended() {
			return nil
		}
	}
	return err
}
