package browsersession

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

func TestRenewalPolicy(t *testing.T) {
	hour := &browserbase.Session{ID: "s1", Status: browserbase.StatusRunning, StartedAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
	minute := &browserbase.Session{ID: "s1", Status: browserbase.StatusRunning, StartedAt: testNow, ExpiresAt: testNow.Add(time.Minute)}
	ended := &browserbase.Session{ID: "s1", Status: browserbase.StatusTimedOut, StartedAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
	rotated := func(at time.Time) func(*v1alpha1.BrowserSession) {
		return func(bs *v1alpha1.BrowserSession) {
			bs.Status.Revision = 2
			if !at.IsZero() {
				bs.Status.LastRotationTime = ptr.To(metav1.NewTime(at))
			}
		}
	}
	cases := []struct {
		name    string
		renewal *v1alpha1.Renewal
		status  func(*v1alpha1.BrowserSession)
		sess    *browserbase.Session
		lead    time.Duration
		now     time.Time
		wantDue bool
		wantAt  time.Time
	}{
		{name: "Never renews nothing", renewal: &v1alpha1.Renewal{Policy: v1alpha1.RenewalNever},
			sess: ended, now: testNow.Add(2 * time.Hour)},
		{name: "OnEnd renews an ended session", renewal: &v1alpha1.Renewal{Policy: v1alpha1.RenewalOnEnd},
			sess: ended, now: testNow, wantDue: true},
		{name: "OnEnd renews a session Browserbase forgot", renewal: &v1alpha1.Renewal{Policy: v1alpha1.RenewalOnEnd},
			now: testNow, wantDue: true},
		{name: "BeforeExpiry: not yet", renewal: beforeExpiry(10*time.Minute, 0),
			sess: hour, now: testNow.Add(49 * time.Minute), wantAt: testNow.Add(50 * time.Minute)},
		{name: "BeforeExpiry: due", renewal: beforeExpiry(10*time.Minute, 0),
			sess: hour, now: testNow.Add(50 * time.Minute), wantDue: true, wantAt: testNow.Add(50 * time.Minute)},
		{name: "a lead longer than renewBefore starts the renewal earlier", renewal: beforeExpiry(10*time.Second, 0),
			sess: hour, lead: 65 * time.Second, now: testNow.Add(59 * time.Minute), wantDue: true, wantAt: testNow.Add(time.Hour - 65*time.Second)},
		{name: "the lead gives way to the session's useful life", renewal: beforeExpiry(10*time.Second, 0),
			sess: minute, lead: 65 * time.Second, now: testNow.Add(20 * time.Second), wantDue: true, wantAt: testNow.Add(20 * time.Second)},
		{name: "a successor not yet in the Secret has not served: not due", renewal: beforeExpiry(10*time.Minute, 0),
			status: rotated(time.Time{}), sess: hour, now: testNow.Add(55 * time.Minute), wantAt: testNow.Add(50 * time.Minute)},
		{name: "a successor is due no sooner than its useful life after it served", renewal: beforeExpiry(10*time.Minute, 0),
			status: rotated(testNow.Add(55 * time.Minute)), sess: hour, now: testNow.Add(55 * time.Minute),
			wantAt: testNow.Add(55*time.Minute + minUsefulLife)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bs := &v1alpha1.BrowserSession{Spec: v1alpha1.BrowserSessionSpec{Renewal: tc.renewal}}
			bs.Status.ID = "s1"
			if tc.status != nil {
				tc.status(bs)
			}
			due, at := NewRenewalPolicy(tc.lead, false)(bs, tc.sess, tc.now)
			if due != tc.wantDue || !at.Equal(tc.wantAt) {
				t.Errorf("due %t at %s; want %t at %s", due, at, tc.wantDue, tc.wantAt)
			}
		})
	}
}

// The jitter stays inside the renewal window, never leaves less than the lead, and is the same
// for a session on every pass.
func TestRenewalJitter(t *testing.T) {
	bs := &v1alpha1.BrowserSession{Spec: v1alpha1.BrowserSessionSpec{Renewal: beforeExpiry(10*time.Minute, 0)}}
	policy := NewRenewalPolicy(65*time.Second, true)
	distinct := map[time.Time]bool{}
	for i := range 50 {
		sess := &browserbase.Session{ID: string(rune('a'+i%26)) + string(rune('a'+i/26)), Status: browserbase.StatusRunning,
			StartedAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
		_, at := policy(bs, sess, testNow)
		_, again := policy(bs, sess, testNow.Add(time.Minute))
		if !at.Equal(again) {
			t.Fatalf("%s: renewal time moved between passes: %s, %s", sess.ID, at, again)
		}
		earliest, latest := testNow.Add(50*time.Minute), testNow.Add(50*time.Minute+time.Minute)
		if at.Before(earliest) || at.After(latest) {
			t.Fatalf("%s: renewal at %s, outside [%s, %s]", sess.ID, at, earliest, latest)
		}
		distinct[at] = true
	}
	if len(distinct) < 10 {
		t.Fatalf("50 sessions share %d renewal times: not spread", len(distinct))
	}
}
