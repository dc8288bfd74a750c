package browsersession

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

func TestReportSessionRequeue(t *testing.T) {
	clk := newFakeClock()
	r := &Reconciler{PollInterval: 30 * time.Second, Kit: reconcile.Kit{Clock: clk}}
	cases := map[string]struct {
		status      string
		expiresIn   time.Duration
		wantReady   metav1.ConditionStatus
		wantReason  string
		wantAtLeast time.Duration
		wantAtMost  time.Duration
	}{
		"running polls at the interval, with jitter": {"RUNNING", time.Hour, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning, 30 * time.Second, 33 * time.Second},
		"running looks again right after expiry":     {"RUNNING", 5 * time.Second, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning, 6 * time.Second, 6 * time.Second},
		"pending is progressing":                     {"PENDING", time.Hour, metav1.ConditionFalse, v1alpha1.ReasonSessionPending, 30 * time.Second, 33 * time.Second},
		"an unknown status is progressing":           {"HIBERNATING", time.Hour, metav1.ConditionFalse, v1alpha1.ReasonSessionStatusUnknown, 30 * time.Second, 33 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			exp := metav1.NewTime(clk.Now().Add(tc.expiresIn))
			bs := &v1alpha1.BrowserSession{Status: v1alpha1.BrowserSessionStatus{ID: "s", SessionStatus: tc.status, ExpiresAt: &exp}}
			result, err := r.reportSession(bs, 0)
			if err != nil {
				t.Fatal(err)
			}
			if result.RequeueAfter < tc.wantAtLeast || result.RequeueAfter > tc.wantAtMost {
				t.Errorf("RequeueAfter = %s, want within [%s, %s]", result.RequeueAfter, tc.wantAtLeast, tc.wantAtMost)
			}
			c := meta.FindStatusCondition(bs.Status.Conditions, v1alpha1.ConditionReady)
			if c == nil || c.Status != tc.wantReady || c.Reason != tc.wantReason {
				t.Errorf("Ready = %+v, want %s/%s", c, tc.wantReady, tc.wantReason)
			}
		})
	}
	for status, reason := range map[string]string{
		"TIMED_OUT": v1alpha1.ReasonSessionTimedOut, "ERROR": v1alpha1.ReasonSessionErrored,
	} {
		bs := &v1alpha1.BrowserSession{Status: v1alpha1.BrowserSessionStatus{ID: "s", SessionStatus: status}}
		_, err := r.reportSession(bs, 0)
		if stall, ok := errors.AsType[*reconcile.StallError](err); !ok || stall.Reason != reason {
			t.Errorf("%s: error = %v, want a stall with reason %s", status, err, reason)
		}
	}
	// A session whose clients disconnected ended normally, as a Job completes: not a failure.
	bs := &v1alpha1.BrowserSession{Status: v1alpha1.BrowserSessionStatus{ID: "s", SessionStatus: "COMPLETED"}}
	_, err := r.reportSession(bs, 0)
	if done, ok := errors.AsType[*reconcile.DoneError](err); !ok || done.Reason != v1alpha1.ReasonSessionCompleted {
		t.Errorf("COMPLETED: error = %v, want done with reason %s", err, v1alpha1.ReasonSessionCompleted)
	}
	if _, err := reconcile.ApplyOutcome(bs, ctrl.Result{}, err); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{v1alpha1.ConditionStalled, v1alpha1.ConditionReconciling} {
		if c := meta.FindStatusCondition(bs.Status.Conditions, typ); c != nil {
			t.Errorf("COMPLETED: %s condition %+v, want none", typ, c)
		}
	}
}
