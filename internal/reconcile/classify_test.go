package reconcile

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

func apiError(code int, retryAfter time.Duration) error {
	return &browserbase.APIError{Method: "POST", Path: "/v1/sessions", StatusCode: code, Message: "nope", RetryAfter: retryAfter}
}

func TestClassify(t *testing.T) {
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
			got := Classify("the operator's BROWSERBASE_API_KEY", "create the Browserbase session", tc.err)
			stall, isStall := errors.AsType[*StallError](got)
			wait, isWait := errors.AsType[*WaitError](got)
			switch {
			case tc.wantStall != "":
				if !isStall || stall.Reason != tc.wantStall || stall.Recheck != 0 {
					t.Fatalf("classify(%v) = %#v, want a stall with reason %s and no recheck", tc.err, got, tc.wantStall)
				}
			case tc.wantWait != 0:
				reason := tc.wantReason
				if reason == "" {
					reason = v1alpha1.ReasonRateLimited
				}
				// Jittered by up to 20%, never shorter than asked.
				if !isWait || wait.After < tc.wantWait || wait.After > tc.wantWait*12/10 || wait.Reason != reason {
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

// A read (a status poll) that fails says nothing about the session: it never reads as a create
// problem, a rate limit keeps a Ready resource Ready, and a rejected key is looked at again.
func TestClassifyRead(t *testing.T) {
	cases := map[string]struct {
		err         error
		wantStall   string
		wantRecheck time.Duration
		wantWait    bool
	}{
		"401 stalls, and polling goes on":           {err: apiError(http.StatusUnauthorized, 0), wantStall: v1alpha1.ReasonCredentialsRejected, wantRecheck: time.Minute},
		"429 waits, keeping Ready":                  {err: apiError(http.StatusTooManyRequests, 10*time.Second), wantWait: true},
		"403 is transient, not a spec to re-create": {err: apiError(http.StatusForbidden, 0)},
		"400 is transient":                          {err: apiError(http.StatusBadRequest, 0)},
		"500 is transient":                          {err: apiError(http.StatusInternalServerError, 0)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := ClassifyRead("the operator's BROWSERBASE_API_KEY", "read the Browserbase session", tc.err, time.Minute)
			stall, isStall := errors.AsType[*StallError](got)
			wait, isWait := errors.AsType[*WaitError](got)
			switch {
			case tc.wantStall != "":
				if !isStall || stall.Reason != tc.wantStall || stall.Recheck != tc.wantRecheck {
					t.Fatalf("ClassifyRead = %#v, want a %s stall rechecked after %s", got, tc.wantStall, tc.wantRecheck)
				}
			case tc.wantWait:
				if !isWait || !wait.KeepReady || wait.After < 10*time.Second || strings.Contains(wait.Message, "creation") {
					t.Fatalf("ClassifyRead = %#v, want a wait that keeps Ready and says nothing of creation", got)
				}
			default:
				if isStall || isWait || !errors.Is(got, tc.err) || strings.Contains(got.Error(), "Re-create") {
					t.Fatalf("ClassifyRead = %#v, want the error wrapped as transient", got)
				}
			}
		})
	}
}
