package browsersession

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// Status reporting: what Browserbase says of the session goes into status (copySessionToStatus),
// with when it is due for renewal (recordRenewalTime), and Ready and the next look follow from it
// (reportSession).

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

// sessionEnded returns the outcome of a recorded session that has ended. Browserbase never
// restarts one, and without spec.renewal the operator does not silently create another. A
// session whose clients disconnected (COMPLETED) ended normally, the way a Job completes: Ready
// False with reason SessionCompleted, neither Reconciling nor Stalled (never kstatus Failed; Argo CD
// Healthy). TIMED_OUT and ERROR are failures: Stalled (kstatus Failed, Argo CD Degraded).
func sessionEnded(bs *v1alpha1.BrowserSession) error {
	status := browserbase.SessionStatus(bs.Status.SessionStatus)
	reason, ended := endedReasons[status]
	if !ended {
		return nil
	}
	if status == browserbase.StatusCompleted {
		return reconcile.Done(reason, "Browserbase session %s has completed: its clients disconnected, or it was released. "+
			"For a session again, delete and re-create the BrowserSession, or set spec.renewal.policy OnEnd", bs.Status.ID)
	}
	return reconcile.Stalled(reason, "Browserbase session %s has ended (%s); delete and re-create the BrowserSession to start a new one",
		bs.Status.ID, status)
}

// report is the last step: it sets Ready from the session's status and decides when to look
// again.
func (r *Reconciler) report(p *pass) (ctrl.Result, error) {
	if p.successorStarting() {
		return r.reportSuccessorStarting(p)
	}
	result, err := r.reportSession(p.bs, p.wakeUp)
	r.observeFirstReady(p)
	return result, err
}

// observeFirstReady records the time from the resource's creation to its first Ready.
func (r *Reconciler) observeFirstReady(p *pass) {
	if p.bs.Status.Revision > 1 || !meta.IsStatusConditionTrue(p.bs.Status.Conditions, v1alpha1.ConditionReady) ||
		meta.IsStatusConditionTrue(p.before.Status.Conditions, v1alpha1.ConditionReady) || p.bs.CreationTimestamp.IsZero() {
		return
	}
	metrics.ObserveReady(r.Now().Sub(p.bs.CreationTimestamp.Time))
}

// successorStartPoll is how often a successor that Browserbase has not started yet is looked at.
const successorStartPoll = 2 * time.Second

// reportSuccessorStarting keeps Ready True on the predecessor, which serves from the Secret while
// its successor starts, and looks again soon, and no later than the predecessor's expiry.
func (r *Reconciler) reportSuccessorStarting(p *pass) (ctrl.Result, error) {
	bs := p.bs
	reconcile.MarkReady(bs, v1alpha1.ReasonSessionRunning, fmt.Sprintf(
		"Browserbase session %s is running; connectUrl and signingKey are in Secret %q; its successor %s is starting",
		bs.Status.PreviousID, bs.Status.SecretName, bs.Status.ID))
	next := successorStartPoll
	if exp := p.predecessor.ExpiresAt; !exp.IsZero() {
		next = min(next, max(exp.Sub(r.Now())+time.Second, time.Second))
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// reportSession sets Ready from the session's status and decides when to look again: at the
// poll interval, or at expiresAt, the renewal time or wakeUp if one comes first, so a timeout
// is noticed, and a renewal made, on time.
func (r *Reconciler) reportSession(bs *v1alpha1.BrowserSession, wakeUp time.Duration) (ctrl.Result, error) {
	if err := sessionEnded(bs); err != nil {
		if replacesEndedSessions(bs) {
			reconcile.MarkProgressing(bs, v1alpha1.ReasonRenewing, err.Error()+"; spec.renewal replaces it")
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
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
	if sweepIn, ok := r.sweeps.nextSweepIn(bs.UID, r.Now()); ok && sweepIn < next {
		next = max(sweepIn, time.Second)
	}
	if wakeUp > 0 && wakeUp < next {
		next = wakeUp
	}
	if due := bs.Status.RenewalTime; due != nil {
		if untilDue := due.Sub(r.Now()); untilDue < next {
			next = max(untilDue, time.Second)
		}
	}
	if exp := bs.Status.ExpiresAt; exp != nil {
		// A second past expiry, so the answer is already TIMED_OUT.
		if untilExpiry := exp.Sub(r.Now()) + time.Second; untilExpiry < next {
			next = max(untilExpiry, time.Second)
		}
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// recordRenewalTime puts when sess is due for renewal into status, with the revision of a
// resource's first session, and warns once per session when spec's renewBefore leaves it no
// useful life (the project's default timeout is shorter than expected) and a third of its
// lifetime is used instead.
func (r *Reconciler) recordRenewalTime(bs *v1alpha1.BrowserSession, sess *browserbase.Session) {
	if bs.Status.Revision == 0 {
		bs.Status.Revision = 1
	}
	_, due := r.renewalPolicy()(bs, sess, r.Now())
	if due.IsZero() {
		bs.Status.RenewalTime = nil
		return
	}
	next := metaTime(&due)
	if bs.Status.RenewalTime == nil || !bs.Status.RenewalTime.Equal(next) {
		if lead := renewalLead(r.CreateGracePeriod); r.RenewalPolicy == nil && leadTooLong(bs, sess, lead) {
			r.Event(bs, corev1.EventTypeWarning, "RenewalAtRisk", "Renew",
				"Session %s lives %s: too short to survive one interrupted renewal, which needs %s before its expiry "+
					"(the create grace period twice and a margin); set a longer spec.timeout",
				sess.ID, lifetime(bs, sess).Round(time.Second), lead)
		}
		if before, tooLong := renewBefore(bs, sess); tooLong {
			r.Event(bs, corev1.EventTypeWarning, "RenewBeforeTooLong", "Renew",
				"spec.renewal.renewBefore (%s) leaves session %s less than %s of use; renewing %s before its expiry instead",
				bs.Spec.Renewal.RenewBefore.Duration, sess.ID, minUsefulLife, before.Round(time.Second))
		}
	}
	bs.Status.RenewalTime = next
}
