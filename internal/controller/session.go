package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// sessionID is the recorded Browserbase session id of bs.
func sessionID(bs *v1alpha1.BrowserSession) string {
	return bs.Status.ID
}

// observeSession reads the session from Browserbase.
func (r *BrowserSessionReconciler) observeSession(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error) {
	sess, err := r.Browserbase.GetSession(ctx, apiKey, id)
	if browserbase.IsNotFound(err) {
		return nil, stalled(v1alpha1.ReasonSessionNotFound,
			"Browserbase has no session %s (recorded in status.id) for this API key; delete and re-create the BrowserSession to start a new one",
			id)
	}
	if err != nil {
		return nil, classify(bs, "read the Browserbase session", err)
	}
	return sess, nil
}

// classify turns a Browserbase error into the outcome it calls for: a rejected key or request
// stalls (retrying would only repeat the refusal and spend the user's quota), a rate limit waits
// as long as Browserbase asks, anything else is transient.
func classify(bs *v1alpha1.BrowserSession, action string, err error) error {
	switch {
	case browserbase.IsUnauthorized(err):
		return stalled(v1alpha1.ReasonCredentialsRejected,
			"Browserbase rejected the API key from %s: %v. Put a valid key there, then annotate the BrowserSession to retry",
			keySource(bs), err)
	case browserbase.IsRateLimited(err):
		after := browserbase.RetryAfter(err)
		if after <= 0 {
			// A creation-rate limit clears within its 60 s window; a concurrency limit only when
			// another session ends. Without a hint, one window is the shortest sensible wait.
			after = time.Minute
		}
		// Resources rate-limited together must not all come back together.
		after = jitter(after)
		if isConcurrencyLimit(err) {
			return &waitError{
				reason: v1alpha1.ReasonConcurrencyLimitReached,
				message: fmt.Sprintf("The Browserbase project is at its concurrent-session limit; trying again when "+
					"Browserbase's Retry-After has passed: %v", err),
				after: after,
			}
		}
		return &waitError{
			reason:  v1alpha1.ReasonRateLimited,
			message: fmt.Sprintf("Browserbase's session-creation rate limit is reached; trying again when its Retry-After has passed: %v", err),
			after:   after,
		}
	case browserbase.IsRejected(err):
		return stalled(v1alpha1.ReasonRequestRejected,
			"Browserbase refused to %s: %v. Re-create the BrowserSession with a spec Browserbase accepts", action, err)
	default:
		return fmt.Errorf("could not %s: %w", action, err)
	}
}

// isConcurrencyLimit tells a concurrent-session 429 from a creation-rate one. Browserbase gives
// no machine-readable distinction, only the message: "…max concurrent sessions limit…".
func isConcurrencyLimit(err error) bool {
	apiErr, ok := errors.AsType[*browserbase.APIError](err)
	return ok && strings.Contains(strings.ToLower(apiErr.Message), "concurrent")
}

// recordSession copies what Browserbase reports into status. The connect URL is stored without
// its credentials; the usable one goes to the Secret only.
func recordSession(bs *v1alpha1.BrowserSession, sess *browserbase.Session) {
	st := &bs.Status
	st.ID = sess.ID
	st.SessionStatus = string(sess.Status)
	if sess.ConnectURL != "" {
		st.ConnectURL = browserbase.RedactURL(sess.ConnectURL)
	}
	st.ExpiresAt = metaTime(&sess.ExpiresAt)
	st.StartedAt = metaTime(&sess.StartedAt)
	st.EndedAt = metaTime(sess.EndedAt)
	st.Region = sess.Region
	st.ProjectID = sess.ProjectID
}

func metaTime(t *time.Time) *metav1.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// endedReasons maps the statuses a session never leaves to condition reasons.
var endedReasons = map[browserbase.SessionStatus]string{
	browserbase.StatusCompleted: v1alpha1.ReasonSessionCompleted,
	browserbase.StatusTimedOut:  v1alpha1.ReasonSessionTimedOut,
	browserbase.StatusError:     v1alpha1.ReasonSessionErrored,
}

// sessionEnded returns a stallError when the recorded session has ended. An ended session is
// final: Browserbase never restarts one, and the operator does not silently create another, so
// the resource reports Stalled (kstatus Failed) rather than waiting forever.
func sessionEnded(bs *v1alpha1.BrowserSession) error {
	status := browserbase.SessionStatus(bs.Status.SessionStatus)
	reason, ended := endedReasons[status]
	if !ended {
		return nil
	}
	return stalled(reason, "Browserbase session %s has ended (%s); delete and re-create the BrowserSession to start a new one",
		bs.Status.ID, status)
}

// reportSession sets Ready from the session's status and decides when to look again: at the
// poll interval, or at expiresAt if that comes first, so a timeout is noticed on time.
func (r *BrowserSessionReconciler) reportSession(bs *v1alpha1.BrowserSession) (ctrl.Result, error) {
	if err := sessionEnded(bs); err != nil {
		return ctrl.Result{}, err
	}
	status := bs.Status.SessionStatus
	switch browserbase.SessionStatus(status) {
	case browserbase.StatusRunning:
		markReady(bs, v1alpha1.ReasonSessionRunning, fmt.Sprintf(
			"Browserbase session %s is running; connectUrl and signingKey are in Secret %q", bs.Status.ID, bs.Status.SecretName))
	case browserbase.StatusPending:
		markProgressing(bs, v1alpha1.ReasonSessionPending, fmt.Sprintf("Browserbase session %s is starting", bs.Status.ID))
	default:
		markProgressing(bs, v1alpha1.ReasonSessionStatusUnknown, fmt.Sprintf(
			"Browserbase session %s reports status %q, which this operator does not know; waiting for RUNNING", bs.Status.ID, status))
	}
	next := wait.Jitter(r.PollInterval, 0.1)
	if exp := bs.Status.ExpiresAt; exp != nil {
		// A second past expiry, so the answer is already TIMED_OUT.
		if untilExpiry := time.Until(exp.Time) + time.Second; untilExpiry < next {
			next = max(untilExpiry, time.Second)
		}
	}
	return ctrl.Result{RequeueAfter: next}, nil
}
