package reconcile

import (
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
)

// ApplyOutcome turns the result of the reconcile steps into conditions, and decides the requeue:
// permanent problems stall without a requeue, waits requeue after their wait, conflicts requeue
// silently, and anything else is returned so that the workqueue backs off.
func ApplyOutcome(obj Object, result ctrl.Result, err error) (ctrl.Result, error) {
	if stall, ok := errors.AsType[*StallError](err); ok {
		MarkStalled(obj, stall.Reason, stall.Message)
		return ctrl.Result{RequeueAfter: stall.Recheck}, nil
	}
	if done, ok := errors.AsType[*DoneError](err); ok {
		MarkDone(obj, done.Reason, done.Message)
		return ctrl.Result{}, nil
	}
	if wait, ok := errors.AsType[*WaitError](err); ok {
		if wait.Reason == v1alpha1.ReasonRateLimited || wait.Reason == v1alpha1.ReasonConcurrencyLimitReached {
			metrics.RateLimitWaits.WithLabelValues(wait.Reason).Inc()
		}
		if !wait.KeepReady || !meta.IsStatusConditionTrue(*obj.GetConditions(), v1alpha1.ConditionReady) {
			MarkProgressing(obj, wait.Reason, wait.Message)
		}
		return ctrl.Result{RequeueAfter: wait.After}, nil
	}
	if apierrors.IsConflict(err) {
		// Someone else wrote the object; the watch brings the new version. Not worth a condition.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if err != nil {
		// A transient failure while the resource is usable does not make it unusable: keep Ready
		// as it is so health does not flap, and let the backoff retry.
		if !meta.IsStatusConditionTrue(*obj.GetConditions(), v1alpha1.ConditionReady) {
			reason := v1alpha1.ReasonReconcileError
			if IsBrowserbaseError(err) {
				reason = v1alpha1.ReasonBrowserbaseUnavailable
			}
			MarkProgressing(obj, reason, err.Error())
		}
		return ctrl.Result{}, err
	}
	return result, nil
}

// FoldStatusPatchError folds the error of a pass's status patch into the pass's outcome: a
// resource deleted meanwhile needs nothing, a conflict on an otherwise clean pass requeues
// quietly (the next pass recomputes the status from a fresh copy), and any other failure is the
// pass's error unless it already has one.
func FoldStatusPatchError(result ctrl.Result, err, patchErr error) (ctrl.Result, error) {
	switch {
	case patchErr == nil, apierrors.IsNotFound(patchErr), err != nil:
		return result, err
	case apierrors.IsConflict(patchErr):
		return ctrl.Result{RequeueAfter: time.Second}, nil
	default:
		return result, patchErr
	}
}

// IsBrowserbaseError reports whether err came from a Browserbase call, as opposed to the
// Kubernetes API.
func IsBrowserbaseError(err error) bool {
	_, isAPI := errors.AsType[*browserbase.APIError](err)
	_, isCall := errors.AsType[*browserbase.CallError](err)
	return isAPI || isCall
}
