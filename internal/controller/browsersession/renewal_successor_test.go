package browsersession

import (
	"context"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// Item: a successor held back by a 429 keeps the predecessor serving, but the next look is no
// later than the predecessor's expiry, and every failed try is a RenewalFailed event.
func TestRenewalHeldBackByA429LooksAgainByThePredecessorsExpiry(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(45*time.Second, time.Minute))
	f.reconcile()
	f.clk.SetTime(testNow.Add(time.Hour - 40*time.Second))
	f.bb.CreateSessionFn = func(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
		return nil, &browserbase.APIError{Method: "POST", Path: "/v1/sessions", StatusCode: 429, RetryAfter: 120 * time.Second,
			Message: "You've exceeded your session creation rate limit"}
	}
	res := f.reconcile()
	bs := f.get()
	if !ready(bs) {
		t.Fatal("not Ready while the predecessor serves")
	}
	untilExpiry := bs.Status.ExpiresAt.Sub(f.clk.Now())
	if res.RequeueAfter > untilExpiry+time.Second {
		t.Fatalf("next look in %s, after the predecessor's expiry in %s", res.RequeueAfter, untilExpiry)
	}
	if !slices.Contains(f.events.Reasons(), "RenewalFailed") {
		t.Fatalf("no RenewalFailed event for the 429: %v", f.events.Reasons())
	}
	// At expiry the predecessor has timed out: Ready goes False at once.
	f.clk.Step(res.RequeueAfter)
	f.ended("s1", browserbase.StatusTimedOut)
	_, _ = f.reconcileAny()
	bs = f.get()
	if ready(bs) || bs.Status.SessionStatus != string(browserbase.StatusTimedOut) {
		t.Fatalf("Ready %t, status %s, after the serving session timed out", ready(bs), bs.Status.SessionStatus)
	}
}

// Item: OnEnd, the successor's create fails with a 5xx after the session timed out: Ready is
// False, and the status says the session has ended.
func TestOnEndRenewalFailureAfterTheSessionEndedIsNotReady(t *testing.T) {
	f := newRenewalFixture(t, &v1alpha1.Renewal{Policy: v1alpha1.RenewalOnEnd})
	f.reconcile()
	f.clk.SetTime(testNow.Add(time.Hour + time.Second))
	f.ended("s1", browserbase.StatusTimedOut)
	f.bb.CreateSessionFn = func(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
		return nil, &browserbase.APIError{Method: "POST", Path: "/v1/sessions", StatusCode: 503}
	}
	_, _ = f.reconcileAny()
	bs := f.get()
	if ready(bs) {
		t.Fatalf("Ready True with session s1 %s and no successor", bs.Status.SessionStatus)
	}
	if bs.Status.SessionStatus != string(browserbase.StatusTimedOut) {
		t.Fatalf("status %s, want TIMED_OUT", bs.Status.SessionStatus)
	}
}

// Item: a successor Browserbase answers PENDING does not take the Secret, and Ready stays True
// on the predecessor, until it runs.
func TestPendingSuccessorTakesTheSecretOnceRunning(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Minute, time.Minute))
	f.reconcile()
	inner := f.bb.CreateSessionFn
	f.bb.CreateSessionFn = func(ctx context.Context, k browserbase.Sensitive, r browserbase.CreateSessionRequest) (*browserbase.Session, error) {
		s, err := inner(ctx, k, r)
		if s != nil {
			s.Status = browserbase.StatusPending
			f.store.mu.Lock()
			f.store.sessions[s.ID].Status = browserbase.StatusPending
			f.store.mu.Unlock()
		}
		return s, err
	}
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	res := f.reconcile()
	bs := f.get()
	if cond := meta.FindStatusCondition(bs.Status.Conditions, v1alpha1.ConditionReady); cond == nil || cond.Status != "True" {
		t.Fatalf("Ready %+v mid-rotation while the predecessor s1 serves", cond)
	}
	if got := string(f.secret().Data[SecretKeySessionID]); got != "s1" {
		t.Fatalf("Secret holds %s while the successor is PENDING, want s1", got)
	}
	if res.RequeueAfter > 5*time.Second {
		t.Fatalf("next look in %s while the successor starts", res.RequeueAfter)
	}
	f.store.mu.Lock()
	f.store.sessions["s2"].Status = browserbase.StatusRunning
	f.store.mu.Unlock()
	f.clk.Step(res.RequeueAfter)
	f.reconcile()
	f.wantCurrent("s2", 2)
	if got := f.status("s1"); got != browserbase.StatusRunning {
		t.Fatalf("predecessor %s before its overlap, counted from the Secret write", got)
	}
}

// Item: a short renewBefore survives one interrupted renewal. With the reconciler's own policy,
// a renewal starts early enough (two grace periods and a margin before expiry) that a lost
// create answer, resolved after the grace period, still puts the successor into the Secret
// before the predecessor expires.
func TestShortRenewBeforeSurvivesALostCreateAnswer(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Second, time.Minute))
	f.r.RenewalPolicy = nil // the reconciler's policy, with its lead for the grace period of 10s
	res := f.reconcile()
	expiry := f.get().Status.ExpiresAt.Time
	for f.created < 2 {
		f.clk.Step(res.RequeueAfter)
		if !f.clk.Now().Before(expiry) {
			t.Fatal("no renewal before the predecessor expired")
		}
		if f.get().Status.RenewalTime != nil && !f.clk.Now().Before(f.get().Status.RenewalTime.Time) {
			f.commitThenFail() // the renewal's create commits s2 and its answer is lost
		}
		res, _ = f.reconcileAny()
	}
	for string(f.secret().Data[SecretKeySessionID]) != "s2" {
		f.clk.Step(max(res.RequeueAfter, time.Second))
		if !f.clk.Now().Before(expiry) {
			t.Fatalf("at the predecessor's expiry the Secret still holds %s", f.secret().Data[SecretKeySessionID])
		}
		res, _ = f.reconcileAny()
	}
	if f.created != 2 {
		t.Fatalf("%d creates: the lost answer's session should have been adopted", f.created)
	}
}
