package browsersession

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// sessionID is the recorded Browserbase session id of bs.
func sessionID(bs *v1alpha1.BrowserSession) string {
	return bs.Status.ID
}

// observeSession reads the session from Browserbase.
func (r *Reconciler) observeSession(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error) {
	sess, err := r.Browserbase.GetSession(ctx, apiKey, id)
	if browserbase.IsNotFound(err) {
		return nil, reconcile.Stalled(v1alpha1.ReasonSessionNotFound,
			"Browserbase has no session %s (recorded in status.id) for this API key; delete and re-create the BrowserSession to start a new one",
			id)
	}
	if err != nil {
		return nil, r.classifyRead(bs, "read the Browserbase session", err)
	}
	return sess, nil
}

// classify is reconcile.Classify for a call that changes something (a create, a release) with
// bs's API key.
func classify(bs *v1alpha1.BrowserSession, action string, err error) error {
	return reconcile.Classify(reconcile.KeySource(bs.Spec.APIKeySecretRef), action, err)
}

// classifyRead is reconcile.ClassifyRead for a read (a poll, a list) with bs's API key. A
// rejected key is looked at again at the poll interval.
func (r *Reconciler) classifyRead(bs *v1alpha1.BrowserSession, action string, err error) error {
	return reconcile.ClassifyRead(reconcile.KeySource(bs.Spec.APIKeySecretRef), action, err, max(r.PollInterval, time.Second))
}

// copySessionToStatus copies what Browserbase reports into bs's status, in memory (the deferred
// status patch writes it). The connect URL is stored without its credentials; the usable one
// goes to the Secret only.
func copySessionToStatus(bs *v1alpha1.BrowserSession, sess *browserbase.Session) {
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

// sessionEnded returns a StallError when the recorded session has ended. An ended session is
// final: Browserbase never restarts one, and the operator does not silently create another, so
// the resource reports Stalled (kstatus Failed) rather than waiting forever.
func sessionEnded(bs *v1alpha1.BrowserSession) error {
	status := browserbase.SessionStatus(bs.Status.SessionStatus)
	reason, ended := endedReasons[status]
	if !ended {
		return nil
	}
	return reconcile.Stalled(reason, "Browserbase session %s has ended (%s); delete and re-create the BrowserSession to start a new one",
		bs.Status.ID, status)
}

// reportSession sets Ready from the session's status and decides when to look again: at the
// poll interval, or at expiresAt if that comes first, so a timeout is noticed on time.
func (r *Reconciler) reportSession(bs *v1alpha1.BrowserSession) (ctrl.Result, error) {
	if err := sessionEnded(bs); err != nil {
		return ctrl.Result{}, err
	}
	status := bs.Status.SessionStatus
	switch browserbase.SessionStatus(status) {
	case browserbase.StatusRunning:
		reconcile.MarkReady(bs, v1alpha1.ReasonSessionRunning, fmt.Sprintf(
			"Browserbase session %s is running; connectUrl and signingKey are in Secret %q", bs.Status.ID, bs.Status.SecretName))
	case browserbase.StatusPending:
		reconcile.MarkProgressing(bs, v1alpha1.ReasonSessionPending, fmt.Sprintf("Browserbase session %s is starting", bs.Status.ID))
	default:
		reconcile.MarkProgressing(bs, v1alpha1.ReasonSessionStatusUnknown, fmt.Sprintf(
			"Browserbase session %s reports status %q, which this operator does not know; waiting for RUNNING", bs.Status.ID, status))
	}
	next := wait.Jitter(r.PollInterval, 0.1)
	if sweepIn, ok := r.sweeps.nextSweepIn(bs.UID, r.clock().Now()); ok && sweepIn < next {
		next = max(sweepIn, time.Second)
	}
	if exp := bs.Status.ExpiresAt; exp != nil {
		// A second past expiry, so the answer is already TIMED_OUT.
		if untilExpiry := exp.Time.Sub(r.clock().Now()) + time.Second; untilExpiry < next {
			next = max(untilExpiry, time.Second)
		}
	}
	return ctrl.Result{RequeueAfter: next}, nil
}
