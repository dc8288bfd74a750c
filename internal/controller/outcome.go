package controller

import (
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
)

// A stallError is a problem that retrying cannot fix: a person must change something first. It
// becomes Stalled=True and Ready=False, and the reconcile ends without an error, so the
// workqueue does not back off and retry it.
type stallError struct {
	reason  string
	message string
	// recheck, when set, looks again after this long. It is only for conditions that no watch
	// reports (a Secret the operator does not cache appearing) and whose check makes no
	// Browserbase call, so it costs nothing against the user's API quota.
	recheck time.Duration
}

func (e *stallError) Error() string { return e.message }

func stalled(reason, format string, args ...any) *stallError {
	return &stallError{reason: reason, message: fmt.Sprintf(format, args...)}
}

// A waitError is a wait for something outside anyone's control, such as a rate limit that
// clears on its own. It becomes Reconciling=True and Ready=False, and a requeue after the wait.
type waitError struct {
	reason  string
	message string
	after   time.Duration
}

func (e *waitError) Error() string { return e.message }

// applyOutcome turns the result of the reconcile steps into conditions, and decides the requeue:
// permanent problems stall without a requeue, waits requeue after their wait, conflicts requeue
// silently, and anything else is returned so that the workqueue backs off.
func applyOutcome(bs *v1alpha1.BrowserSession, result ctrl.Result, err error) (ctrl.Result, error) {
	if stall, ok := errors.AsType[*stallError](err); ok {
		setCondition(bs, v1alpha1.ConditionReady, metav1.ConditionFalse, stall.reason, stall.message)
		setCondition(bs, v1alpha1.ConditionStalled, metav1.ConditionTrue, stall.reason, stall.message)
		meta.RemoveStatusCondition(&bs.Status.Conditions, v1alpha1.ConditionReconciling)
		return ctrl.Result{RequeueAfter: stall.recheck}, nil
	}
	if wait, ok := errors.AsType[*waitError](err); ok {
		if wait.reason == v1alpha1.ReasonRateLimited || wait.reason == v1alpha1.ReasonConcurrencyLimitReached {
			metrics.RateLimitWaits.WithLabelValues(wait.reason).Inc()
		}
		markProgressing(bs, wait.reason, wait.message)
		return ctrl.Result{RequeueAfter: wait.after}, nil
	}
	if apierrors.IsConflict(err) {
		// Someone else wrote the object; the watch brings the new version. Not worth a condition.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if err != nil {
		// A transient failure while the session is usable does not make it unusable: keep Ready
		// as it is so health does not flap, and let the backoff retry.
		if !meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
			reason := v1alpha1.ReasonReconcileError
			if isBrowserbaseError(err) {
				reason = v1alpha1.ReasonBrowserbaseUnavailable
			}
			markProgressing(bs, reason, err.Error())
		}
		return ctrl.Result{}, err
	}
	return result, nil
}

// markProgressing says the operator is working towards Ready and nothing needs a person.
func markProgressing(bs *v1alpha1.BrowserSession, reason, message string) {
	setCondition(bs, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	setCondition(bs, v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(&bs.Status.Conditions, v1alpha1.ConditionStalled)
}

// markReady says the session is usable and nothing is pending.
func markReady(bs *v1alpha1.BrowserSession, reason, message string) {
	setCondition(bs, v1alpha1.ConditionReady, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(&bs.Status.Conditions, v1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(&bs.Status.Conditions, v1alpha1.ConditionStalled)
}

func setCondition(bs *v1alpha1.BrowserSession, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&bs.Status.Conditions, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: bs.Generation,
	})
}

// isBrowserbaseError reports whether err came from a Browserbase call, as opposed to the
// Kubernetes API.
func isBrowserbaseError(err error) bool {
	_, isAPI := errors.AsType[*browserbase.APIError](err)
	_, isCall := errors.AsType[*browserbase.CallError](err)
	return isAPI || isCall
}
