package reconcile

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// StalledTransition returns the Stalled condition of after if it is new since before, or says
// something new: a stall makes one Warning event, not one per pass.
func StalledTransition(before, after []metav1.Condition) *metav1.Condition {
	now := meta.FindStatusCondition(after, v1alpha1.ConditionStalled)
	if now == nil || now.Status != metav1.ConditionTrue {
		return nil
	}
	was := meta.FindStatusCondition(before, v1alpha1.ConditionStalled)
	if was != nil && was.Status == now.Status && was.Reason == now.Reason && was.Message == now.Message {
		return nil
	}
	return now
}

// eventWorthyWaits are the waits worth an event when they begin: a rate limit, an outage, a lost
// create answer. Their ends show as the event of the success that follows.
var eventWorthyWaits = map[string]bool{
	v1alpha1.ReasonRateLimited:             true,
	v1alpha1.ReasonConcurrencyLimitReached: true,
	v1alpha1.ReasonBrowserbaseUnavailable:  true,
	v1alpha1.ReasonCreateOutcomeUnknown:    true,
}

// WaitTransition returns the Reconciling condition of after if the resource has just begun one
// of the event-worthy waits, so that a wait makes one event, not one per retry.
func WaitTransition(before, after []metav1.Condition) *metav1.Condition {
	now := meta.FindStatusCondition(after, v1alpha1.ConditionReconciling)
	if now == nil || now.Status != metav1.ConditionTrue || !eventWorthyWaits[now.Reason] {
		return nil
	}
	if was := meta.FindStatusCondition(before, v1alpha1.ConditionReconciling); was != nil && was.Reason == now.Reason {
		return nil
	}
	return now
}

// TransitionWarning is the condition a pass owes a Warning event for, if any: the resource has
// just stalled (StalledTransition), or else has just begun an event-worthy wait (WaitTransition).
func TransitionWarning(before, after []metav1.Condition) *metav1.Condition {
	if stalled := StalledTransition(before, after); stalled != nil {
		return stalled
	}
	return WaitTransition(before, after)
}
