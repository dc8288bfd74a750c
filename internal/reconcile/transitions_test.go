package reconcile

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

func TestTransitions(t *testing.T) {
	cond := func(typ, reason, message string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: message}
	}
	stalled := func(reason, message string) []metav1.Condition {
		return []metav1.Condition{cond(v1alpha1.ConditionStalled, reason, message)}
	}
	waiting := func(reason string) []metav1.Condition {
		return []metav1.Condition{cond(v1alpha1.ConditionReconciling, reason, "m")}
	}
	cases := map[string]struct {
		before, after []metav1.Condition
		wantStall     bool
		wantWait      bool
	}{
		"a new stall":                         {after: stalled("CredentialsRejected", "m"), wantStall: true},
		"the same stall again":                {before: stalled("CredentialsRejected", "m"), after: stalled("CredentialsRejected", "m")},
		"a stall that says something new":     {before: stalled("CredentialsRejected", "m"), after: stalled("CredentialsRejected", "other"), wantStall: true},
		"a rate-limit wait begins":            {after: waiting(v1alpha1.ReasonRateLimited), wantWait: true},
		"the same wait continues":             {before: waiting(v1alpha1.ReasonRateLimited), after: waiting(v1alpha1.ReasonRateLimited)},
		"a pending session is no event":       {after: waiting(v1alpha1.ReasonSessionPending)},
		"an outage after a rate limit is new": {before: waiting(v1alpha1.ReasonRateLimited), after: waiting(v1alpha1.ReasonBrowserbaseUnavailable), wantWait: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := StalledTransition(tc.before, tc.after) != nil; got != tc.wantStall {
				t.Errorf("StalledTransition = %t, want %t", got, tc.wantStall)
			}
			if got := TransitionWarning(tc.before, tc.after) != nil; got != (tc.wantStall || tc.wantWait) {
				t.Errorf("TransitionWarning = %t, want %t", got, tc.wantStall || tc.wantWait)
			}
			if got := WaitTransition(tc.before, tc.after) != nil; got != tc.wantWait {
				t.Errorf("WaitTransition = %t, want %t", got, tc.wantWait)
			}
		})
	}
}
