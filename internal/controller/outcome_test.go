package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

func apiError(code int, retryAfter time.Duration) error {
	return &browserbase.APIError{Method: "POST", Path: "/v1/sessions", StatusCode: code, Message: "nope", RetryAfter: retryAfter}
}

func TestClassify(t *testing.T) {
	bs := &v1alpha1.BrowserSession{}
	cases := map[string]struct {
		err         error
		wantStall   string
		wantWait    time.Duration
		wantReason  string
		wantGeneric bool
	}{
		"401 stalls on the credentials":          {err: apiError(http.StatusUnauthorized, 0), wantStall: v1alpha1.ReasonCredentialsRejected},
		"403 stalls: plan-gated feature":         {err: apiError(http.StatusForbidden, 0), wantStall: v1alpha1.ReasonRequestRejected},
		"400 stalls: validation":                 {err: apiError(http.StatusBadRequest, 0), wantStall: v1alpha1.ReasonRequestRejected},
		"402 stalls: plan quota":                 {err: apiError(http.StatusPaymentRequired, 0), wantStall: v1alpha1.ReasonRequestRejected},
		"429 waits as long as asked":             {err: apiError(http.StatusTooManyRequests, 42*time.Second), wantWait: 42 * time.Second},
		"429 without Retry-After waits a window": {err: apiError(http.StatusTooManyRequests, 0), wantWait: time.Minute},
		"a concurrency 429 says so": {
			err: &browserbase.APIError{
				StatusCode: http.StatusTooManyRequests, RetryAfter: 5 * time.Second,
				Message: "You've exceeded your max concurrent sessions limit (limit 1, currently 1)",
			},
			wantWait: 5 * time.Second, wantReason: v1alpha1.ReasonConcurrencyLimitReached,
		},
		"500 is transient":       {err: apiError(http.StatusInternalServerError, 0), wantGeneric: true},
		"409 is transient":       {err: apiError(http.StatusConflict, 0), wantGeneric: true},
		"no answer is transient": {err: &browserbase.CallError{Method: "POST", Path: "/v1/sessions", Err: context.DeadlineExceeded}, wantGeneric: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := classify(bs, "create the Browserbase session", tc.err)
			stall, isStall := errors.AsType[*stallError](got)
			wait, isWait := errors.AsType[*waitError](got)
			switch {
			case tc.wantStall != "":
				if !isStall || stall.reason != tc.wantStall || stall.recheck != 0 {
					t.Fatalf("classify(%v) = %#v, want a stall with reason %s and no recheck", tc.err, got, tc.wantStall)
				}
			case tc.wantWait != 0:
				reason := tc.wantReason
				if reason == "" {
					reason = v1alpha1.ReasonRateLimited
				}
				// Jittered by up to 20%, never shorter than asked.
				if !isWait || wait.after < tc.wantWait || wait.after > tc.wantWait*12/10 || wait.reason != reason {
					t.Fatalf("classify(%v) = %#v, want a %s wait of %s to %s", tc.err, got, reason, tc.wantWait, tc.wantWait*12/10)
				}
			default:
				if isStall || isWait || !errors.Is(got, tc.err) {
					t.Fatalf("classify(%v) = %#v, want the error wrapped as transient", tc.err, got)
				}
			}
		})
	}
}

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
			err:    stalled(v1alpha1.ReasonCredentialsRejected, "bad key"),
			want: want{conditions: map[string]string{
				v1alpha1.ConditionReady:   "False/CredentialsRejected",
				v1alpha1.ConditionStalled: "True/CredentialsRejected",
			}},
		},
		"a stall with a recheck requeues after it": {
			err: &stallError{reason: v1alpha1.ReasonCredentialsMissing, message: "m", recheck: time.Minute},
			want: want{result: ctrl.Result{RequeueAfter: time.Minute}, conditions: map[string]string{
				v1alpha1.ConditionReady:   "False/CredentialsMissing",
				v1alpha1.ConditionStalled: "True/CredentialsMissing",
			}},
		},
		"a wait is Reconciling, not Stalled": {
			err: &waitError{reason: v1alpha1.ReasonRateLimited, message: "m", after: 30 * time.Second},
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
			result, err := applyOutcome(bs, ctrl.Result{}, tc.err)
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

func TestJSONLengthCountsAsJavaScriptDoes(t *testing.T) {
	cases := map[string]struct {
		in   any
		want int
	}{
		"ascii":                         {map[string]any{"a": "b"}, len(`{"a":"b"}`)},
		"html characters not escaped":   {map[string]any{"a": "<&>"}, len(`{"a":"<&>"}`)},
		"astral characters count twice": {map[string]any{"a": "😀"}, len(`{"a":""}`) + 2},
		"quotes escaped":                {map[string]any{"a": `"`}, len(`{"a":"\""}`)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := jsonLength(tc.in); got != tc.want {
				t.Errorf("jsonLength(%v) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	secret := func(name string, data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		secret("key", map[string]string{"apiKey": "  from-secret\n", "other": "other-key"}),
		secret("empty", map[string]string{"apiKey": ""}),
	).Build()
	cases := map[string]struct {
		ref         *v1alpha1.APIKeySecretReference
		defaultKey  browserbase.Sensitive
		wantKey     string
		wantReason  string
		wantRecheck bool
	}{
		"the default key when no ref":    {defaultKey: "default", wantKey: "default"},
		"no ref and no default":          {wantReason: v1alpha1.ReasonCredentialsMissing},
		"the ref's default key, trimmed": {ref: &v1alpha1.APIKeySecretReference{Name: "key"}, defaultKey: "default", wantKey: "from-secret"},
		"the ref's named key":            {ref: &v1alpha1.APIKeySecretReference{Name: "key", Key: "other"}, wantKey: "other-key"},
		"a missing Secret is rechecked":  {ref: &v1alpha1.APIKeySecretReference{Name: "absent"}, wantReason: v1alpha1.ReasonCredentialsMissing, wantRecheck: true},
		"an empty value is rechecked":    {ref: &v1alpha1.APIKeySecretReference{Name: "empty"}, wantReason: v1alpha1.ReasonCredentialsMissing, wantRecheck: true},
		"a missing key is rechecked":     {ref: &v1alpha1.APIKeySecretReference{Name: "key", Key: "nope"}, wantReason: v1alpha1.ReasonCredentialsMissing, wantRecheck: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := &BrowserSessionReconciler{APIReader: reader, DefaultAPIKey: tc.defaultKey, CredentialsRecheckInterval: time.Minute}
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs"}}
			bs.Spec.APIKeySecretRef = tc.ref
			key, err := r.credentials(context.Background(), bs)
			if tc.wantReason == "" {
				if err != nil || key.Reveal() != tc.wantKey {
					t.Fatalf("credentials() = %q, %v; want %q", key.Reveal(), err, tc.wantKey)
				}
				return
			}
			stall, ok := errors.AsType[*stallError](err)
			if !ok || stall.reason != tc.wantReason || (stall.recheck > 0) != tc.wantRecheck {
				t.Fatalf("credentials() error = %#v, want reason %s, recheck %t", err, tc.wantReason, tc.wantRecheck)
			}
		})
	}
}

func TestReportSessionRequeue(t *testing.T) {
	r := &BrowserSessionReconciler{PollInterval: 30 * time.Second}
	cases := map[string]struct {
		status      string
		expiresIn   time.Duration
		wantReady   metav1.ConditionStatus
		wantReason  string
		wantAtLeast time.Duration
		wantAtMost  time.Duration
	}{
		"running polls at the interval, with jitter": {"RUNNING", time.Hour, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning, 30 * time.Second, 33 * time.Second},
		"running looks again right after expiry":     {"RUNNING", 5 * time.Second, metav1.ConditionTrue, v1alpha1.ReasonSessionRunning, 4 * time.Second, 6 * time.Second},
		"pending is progressing":                     {"PENDING", time.Hour, metav1.ConditionFalse, v1alpha1.ReasonSessionPending, 30 * time.Second, 33 * time.Second},
		"an unknown status is progressing":           {"HIBERNATING", time.Hour, metav1.ConditionFalse, v1alpha1.ReasonSessionStatusUnknown, 30 * time.Second, 33 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			exp := metav1.NewTime(time.Now().Add(tc.expiresIn))
			bs := &v1alpha1.BrowserSession{Status: v1alpha1.BrowserSessionStatus{ID: "s", SessionStatus: tc.status, ExpiresAt: &exp}}
			result, err := r.reportSession(bs)
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
		"COMPLETED": v1alpha1.ReasonSessionCompleted, "TIMED_OUT": v1alpha1.ReasonSessionTimedOut, "ERROR": v1alpha1.ReasonSessionErrored,
	} {
		bs := &v1alpha1.BrowserSession{Status: v1alpha1.BrowserSessionStatus{ID: "s", SessionStatus: status}}
		_, err := r.reportSession(bs)
		if stall, ok := errors.AsType[*stallError](err); !ok || stall.reason != reason {
			t.Errorf("%s: error = %v, want a stall with reason %s", status, err, reason)
		}
	}
}

func TestHoldUntilExpiry(t *testing.T) {
	r := &BrowserSessionReconciler{CredentialsRecheckInterval: time.Minute}
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(time.Now().Add(d)); return &t }
	cases := map[string]struct {
		expiresAt   *metav1.Time
		created     time.Time
		err         error
		wantNil     bool
		wantRecheck [2]time.Duration
	}{
		"transient errors are returned for backoff": {expiresAt: at(time.Hour), err: errors.New("boom")},
		"an expired session lets deletion proceed":  {expiresAt: at(-time.Second), err: stalled("CredentialsRejected", "m"), wantNil: true},
		"a rejected key waits for expiry only": {
			expiresAt: at(10 * time.Minute), err: stalled("CredentialsRejected", "m"),
			wantRecheck: [2]time.Duration{9 * time.Minute, 11 * time.Minute},
		},
		"a missing Secret is looked for again": {
			expiresAt: at(10 * time.Minute), err: &stallError{reason: "CredentialsMissing", message: "m", recheck: time.Minute},
			wantRecheck: [2]time.Duration{time.Minute, time.Minute},
		},
		"without expiresAt the longest lifetime bounds the wait": {
			created: time.Now().Add(-7 * time.Hour), err: stalled("CredentialsRejected", "m"), wantNil: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(tc.created)}}
			if tc.created.IsZero() {
				bs.CreationTimestamp = metav1.Now()
			}
			bs.Status.ExpiresAt = tc.expiresAt
			got := r.holdUntilExpiry(context.Background(), bs, tc.err)
			if tc.wantNil {
				if got != nil {
					t.Fatalf("holdUntilExpiry = %v, want nil", got)
				}
				return
			}
			stall, ok := errors.AsType[*stallError](got)
			if tc.wantRecheck == [2]time.Duration{} {
				if ok || !errors.Is(got, tc.err) {
					t.Fatalf("holdUntilExpiry = %#v, want %v returned as is", got, tc.err)
				}
				return
			}
			if !ok || stall.recheck < tc.wantRecheck[0] || stall.recheck > tc.wantRecheck[1] {
				t.Fatalf("holdUntilExpiry = %#v, want a stall rechecking within %v", got, tc.wantRecheck)
			}
		})
	}
}
