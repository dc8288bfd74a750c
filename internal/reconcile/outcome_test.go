package reconcile

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

func TestApplyOutcome(t *testing.T) {
	ready := func(status metav1.ConditionStatus) []metav1.Condition {
		return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: status, Reason: "Before", Message: "before"}}
	}
	transient := &browserbase.CallError{Method: "GET", Path: "/v1/sessions/x", Err: errors.New("connection refused")}
	type want struct {
		result     ctrl.Result
		err        bool
		conditions map[string]string // type -> "Status/Reason"; absent types must be absent
	}
	cases := map[string]struct {
		before []metav1.Condition
		err    error
		want   want
	}{
		"a stall ends the reconcile without an error or requeue": {
			before: ready(metav1.ConditionUnknown),
			err:    Stalled(v1alpha1.ReasonCredentialsRejected, "bad key"),
			want: want{conditions: map[string]string{
				v1alpha1.ConditionReady:   "False/CredentialsRejected",
				v1alpha1.ConditionStalled: "True/CredentialsRejected",
			}},
		},
		"a stall with a recheck requeues after it": {
			err: &StallError{Reason: v1alpha1.ReasonCredentialsMissing, Message: "m", Recheck: time.Minute},
			want: want{result: ctrl.Result{RequeueAfter: time.Minute}, conditions: map[string]string{
				v1alpha1.ConditionReady:   "False/CredentialsMissing",
				v1alpha1.ConditionStalled: "True/CredentialsMissing",
			}},
		},
		"a wait is Reconciling, not Stalled": {
			err: &WaitError{Reason: v1alpha1.ReasonRateLimited, Message: "m", After: 30 * time.Second},
			want: want{result: ctrl.Result{RequeueAfter: 30 * time.Second}, conditions: map[string]string{
				v1alpha1.ConditionReady:       "False/RateLimited",
				v1alpha1.ConditionReconciling: "True/RateLimited",
			}},
		},
		"a poll's rate limit keeps a Ready resource Ready": {
			before: ready(metav1.ConditionTrue),
			err:    &WaitError{Reason: v1alpha1.ReasonRateLimited, Message: "m", After: 30 * time.Second, KeepReady: true},
			want:   want{result: ctrl.Result{RequeueAfter: 30 * time.Second}, conditions: map[string]string{v1alpha1.ConditionReady: "True/Before"}},
		},
		"a poll's rate limit before Ready is Reconciling": {
			before: ready(metav1.ConditionUnknown),
			err:    &WaitError{Reason: v1alpha1.ReasonRateLimited, Message: "m", After: 30 * time.Second, KeepReady: true},
			want: want{result: ctrl.Result{RequeueAfter: 30 * time.Second}, conditions: map[string]string{
				v1alpha1.ConditionReady:       "False/RateLimited",
				v1alpha1.ConditionReconciling: "True/RateLimited",
			}},
		},
		"a conflict requeues silently": {
			before: ready(metav1.ConditionTrue),
			err:    apierrors.NewConflict(schema.GroupResource{Resource: "browsersessions"}, "x", errors.New("stale")),
			want:   want{result: ctrl.Result{RequeueAfter: time.Second}, conditions: map[string]string{v1alpha1.ConditionReady: "True/Before"}},
		},
		"a transient error keeps a Ready session Ready": {
			before: ready(metav1.ConditionTrue),
			err:    transient,
			want:   want{err: true, conditions: map[string]string{v1alpha1.ConditionReady: "True/Before"}},
		},
		"a transient Browserbase error before Ready is Reconciling": {
			before: ready(metav1.ConditionUnknown),
			err:    fmt.Errorf("could not create: %w", transient),
			want: want{err: true, conditions: map[string]string{
				v1alpha1.ConditionReady:       "False/BrowserbaseUnavailable",
				v1alpha1.ConditionReconciling: "True/BrowserbaseUnavailable",
			}},
		},
		"a transient Kubernetes error before Ready is Reconciling": {
			err: errors.New("etcd hiccup"),
			want: want{err: true, conditions: map[string]string{
				v1alpha1.ConditionReady:       "False/ReconcileError",
				v1alpha1.ConditionReconciling: "True/ReconcileError",
			}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bs := &v1alpha1.BrowserSession{Status: v1alpha1.BrowserSessionStatus{Conditions: tc.before}}
			result, err := ApplyOutcome(bs, ctrl.Result{}, tc.err)
			if diff := cmp.Diff(tc.want.result, result); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if (err != nil) != tc.want.err {
				t.Errorf("error = %v, want error: %t", err, tc.want.err)
			}
			got := map[string]string{}
			for _, c := range bs.Status.Conditions {
				got[c.Type] = string(c.Status) + "/" + c.Reason
			}
			if diff := cmp.Diff(tc.want.conditions, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFoldStatusPatchError(t *testing.T) {
	conflict := apierrors.NewConflict(schema.GroupResource{Resource: "browsersessions"}, "bs", errors.New("changed"))
	gone := apierrors.NewNotFound(schema.GroupResource{Resource: "browsersessions"}, "bs")
	passErr := errors.New("the pass failed")
	patchErr := errors.New("the API server is down")
	poll := ctrl.Result{RequeueAfter: time.Minute}
	cases := map[string]struct {
		err, patchErr error
		want          ctrl.Result
		wantErr       error
	}{
		"a written status keeps the pass's outcome":      {want: poll},
		"a deleted resource needs nothing":               {patchErr: gone, want: poll},
		"a conflict after a clean pass requeues quietly": {patchErr: conflict, want: ctrl.Result{RequeueAfter: time.Second}},
		"the pass's own error wins over the patch's":     {err: passErr, patchErr: patchErr, want: poll, wantErr: passErr},
		"a failed patch after a clean pass is its error": {patchErr: patchErr, want: poll, wantErr: patchErr},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := FoldStatusPatchError(poll, tc.err, tc.patchErr)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("FoldStatusPatchError = %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
