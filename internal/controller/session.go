package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// sessionID is the recorded Browserbase session id of bs: the annotation first, because it is
// written right after create and survives a restore from backup, then status.
func sessionID(bs *v1alpha1.BrowserSession) string {
	if id := bs.Annotations[v1alpha1.AnnotationSessionID]; id != "" {
		return id
	}
	return bs.Status.ID
}

// createSession creates the Browserbase session of bs and records its id on the resource
// before anything else can fail. The create is never retried here: its outcome may be unknown.
func (r *BrowserSessionReconciler) createSession(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) (*browserbase.Session, error) {
	req, err := r.createRequest(ctx, bs)
	if err != nil {
		return nil, err
	}
	sess, err := r.Browserbase.CreateSession(ctx, apiKey, req)
	if err != nil {
		return nil, classify(bs, "create the Browserbase session", err)
	}
	log.FromContext(ctx).Info("Created Browserbase session", "sessionID", sess.ID, "region", sess.Region)
	r.event(bs, corev1.EventTypeNormal, "SessionCreated", "Create", "Created Browserbase session %s", sess.ID)

	// Record the id in metadata at once: the status patch comes at the end of the reconcile, and
	// a session whose id is lost is a leaked, billed browser.
	bs.Status.ID = sess.ID
	if err := r.recordSessionID(ctx, bs, sess.ID); err != nil {
		log.FromContext(ctx).Error(err, "Could not record the session id annotation; status will carry it", "sessionID", sess.ID)
	}
	return sess, nil
}

// recordSessionID writes the session id annotation with a merge patch, which touches nothing
// else and cannot conflict, retrying transient failures.
func (r *BrowserSessionReconciler) recordSessionID(ctx context.Context, bs *v1alpha1.BrowserSession, id string) error {
	return retry.OnError(retry.DefaultBackoff, func(err error) bool { return !apierrors.IsNotFound(err) }, func() error {
		base := bs.DeepCopy()
		if bs.Annotations == nil {
			bs.Annotations = map[string]string{}
		}
		bs.Annotations[v1alpha1.AnnotationSessionID] = id
		return r.Patch(ctx, bs, client.MergeFrom(base))
	})
}

// observeSession reads the session from Browserbase.
func (r *BrowserSessionReconciler) observeSession(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error) {
	sess, err := r.Browserbase.GetSession(ctx, apiKey, id)
	if browserbase.IsNotFound(err) {
		return nil, stalled(v1alpha1.ReasonSessionNotFound,
			"Browserbase has no session %s (recorded in annotation %s) for this API key; delete and re-create the BrowserSession to start a new one",
			id, v1alpha1.AnnotationSessionID)
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
		return &waitError{
			reason:  v1alpha1.ReasonRateLimited,
			message: fmt.Sprintf("Browserbase rate limit reached, waiting %s before trying again: %v", after.Round(time.Second), err),
			after:   after,
		}
	case browserbase.IsRejected(err):
		return stalled(v1alpha1.ReasonRequestRejected,
			"Browserbase refused to %s: %v. Re-create the BrowserSession with a spec Browserbase accepts", action, err)
	default:
		return fmt.Errorf("could not %s: %w", action, err)
	}
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
