package browsersession

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// The release step calls Browserbase only when there is something to end, and lets the
// resource go when the session is gone.
func TestReleaseSession(t *testing.T) {
	attempt := map[string]string{
		v1alpha1.AnnotationCreateAttempt:     "0123456789abcdef",
		v1alpha1.AnnotationCreateAttemptedAt: testNow.Add(-time.Minute).Format(time.RFC3339),
	}
	cases := map[string]struct {
		id           string
		status       string
		expiresIn    time.Duration // status.expiresAt from now; 0: none recorded
		releaseErr   error         // what Browserbase answers to the release of id
		policy       v1alpha1.DeletionPolicy
		annotations  map[string]string
		sessions     []*browserbase.Session
		wantReleased []string
		wantEvent    string
		wantWait     bool
	}{
		"a running session is released": {
			id: "s1", status: "RUNNING", sessions: []*browserbase.Session{usableSession("s1")},
			wantReleased: []string{"s1"}, wantEvent: "SessionReleased",
		},
		"a session Browserbase no longer knows counts as released": {
			id: "gone", status: "RUNNING", wantReleased: []string{"gone"}, wantEvent: "SessionReleased",
		},
		"Orphan leaves it running": {
			id: "s1", status: "RUNNING", policy: v1alpha1.DeletionPolicyOrphan, sessions: []*browserbase.Session{usableSession("s1")},
			wantEvent: "SessionOrphaned",
		},
		"skip-release leaves it running": {
			id: "s1", status: "RUNNING", annotations: map[string]string{v1alpha1.AnnotationSkipRelease: "true"},
			sessions: []*browserbase.Session{usableSession("s1")}, wantEvent: "ReleaseSkipped",
		},
		"an ended session needs no release of its own": {id: "s1", status: "COMPLETED"},
		"every other live session tagged with the resource is released too": {
			id: "s1", status: "RUNNING", sessions: []*browserbase.Session{usableSession("s0"), usableSession("s1"), usableSession("s2")},
			wantReleased: []string{"s1", "s0", "s2"}, wantEvent: "SessionReleased",
		},
		"past expiresAt nothing can run: no call at all": {
			id: "s1", status: "RUNNING", expiresIn: -time.Second, sessions: []*browserbase.Session{usableSession("s1")},
			releaseErr: &browserbase.CallError{Method: "POST", Path: "/v1/sessions/s1", Err: context.DeadlineExceeded},
		},
		"a refused release of a session that has ended counts as released": {
			id: "s1", status: "RUNNING", expiresIn: time.Hour,
			sessions:   []*browserbase.Session{{ID: "s1", Status: browserbase.StatusCompleted}},
			releaseErr: browserbasetest.Status(400, "Session is not running"), wantReleased: []string{"s1"}, wantEvent: "SessionReleased",
		},
		"never created: nothing to do": {},
		"an unfinished create: what its token finds is released": {
			annotations: attempt, sessions: []*browserbase.Session{usableSession("orphan")},
			wantReleased: []string{"orphan"}, wantEvent: "SessionReleased",
		},
		"an unfinished create within the grace period waits for the list": {
			annotations: map[string]string{
				v1alpha1.AnnotationCreateAttempt:     "0123456789abcdef",
				v1alpha1.AnnotationCreateAttemptedAt: testNow.Format(time.RFC3339),
			},
			wantWait: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bs := &v1alpha1.BrowserSession{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "uid-1", Annotations: tc.annotations, CreationTimestamp: metav1.NewTime(testNow)},
				Spec:       v1alpha1.BrowserSessionSpec{DeletionPolicy: tc.policy},
				Status:     v1alpha1.BrowserSessionStatus{ID: tc.id, SessionStatus: tc.status},
			}
			if tc.expiresIn != 0 {
				exp := metav1.NewTime(testNow.Add(tc.expiresIn))
				bs.Status.ExpiresAt = &exp
			}
			bb := newSessionStore(tc.sessions...).client()
			if tc.releaseErr != nil {
				bb.ReleaseSessionFn = func(context.Context, browserbase.Sensitive, string) (*browserbase.Session, error) {
					return nil, tc.releaseErr
				}
			}
			events := &controllertest.Events{}
			r := &Reconciler{
				Browserbase: bb, CreateGracePeriod: 10 * time.Second,
				Credentials: &reconcile.Credentials{Default: "key"},
				Kit:         reconcile.Kit{Clock: newFakeClock(), Recorder: events},
			}

			err := r.releaseOnDelete(context.Background(), bs)

			if _, isWait := errors.AsType[*reconcile.WaitError](err); isWait != tc.wantWait || (!tc.wantWait && err != nil) {
				t.Fatalf("releaseOnDelete = %v, want a wait: %t", err, tc.wantWait)
			}
			if diff := cmp.Diff(tc.wantReleased, ids(bb.CallsTo(browserbasetest.ReleaseSession))); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
			if got := events.Reasons(); tc.wantEvent != "" && (len(got) == 0 || got[0] != tc.wantEvent) || tc.wantEvent == "" && len(got) > 0 {
				t.Errorf("events %v, want %q first", got, tc.wantEvent)
			}
			if tc.expiresIn < 0 && len(bb.Calls()) > 0 {
				t.Errorf("calls %+v after expiry, want none", bb.Calls())
			}
			if n := len(bb.CallsTo(browserbasetest.CreateSession)); n != 0 {
				t.Errorf("a release made %d creates", n)
			}
		})
	}
}

func TestHoldUntilExpiry(t *testing.T) {
	clk := newFakeClock()
	r := &Reconciler{Kit: reconcile.Kit{Clock: clk}}
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(clk.Now().Add(d)); return &t }
	cases := map[string]struct {
		expiresAt   *metav1.Time
		created     time.Time
		err         error
		wantNil     bool
		wantRecheck [2]time.Duration
	}{
		"transient errors are returned for backoff":         {expiresAt: at(time.Hour), err: errors.New("boom")},
		"transient errors past expiry let deletion proceed": {expiresAt: at(-time.Second), err: errors.New("unreachable"), wantNil: true},
		"an expired session lets deletion proceed":          {expiresAt: at(-time.Second), err: reconcile.Stalled("CredentialsRejected", "m"), wantNil: true},
		"a rejected key waits for expiry only": {
			expiresAt: at(10 * time.Minute), err: reconcile.Stalled("CredentialsRejected", "m"),
			wantRecheck: [2]time.Duration{10*time.Minute + time.Second, 10*time.Minute + time.Second},
		},
		"a missing Secret is looked for again": {
			expiresAt: at(10 * time.Minute), err: &reconcile.StallError{Reason: "CredentialsMissing", Message: "m", Recheck: time.Minute},
			wantRecheck: [2]time.Duration{time.Minute, time.Minute},
		},
		"without expiresAt the longest lifetime bounds the wait": {
			created: clk.Now().Add(-7 * time.Hour), err: reconcile.Stalled("CredentialsRejected", "m"), wantNil: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(tc.created)}}
			if tc.created.IsZero() {
				bs.CreationTimestamp = metav1.NewTime(clk.Now())
			}
			bs.Status.ExpiresAt = tc.expiresAt
			got := r.holdUntilExpiry(context.Background(), bs, tc.err)
			if tc.wantNil {
				if got != nil {
					t.Fatalf("holdUntilExpiry = %v, want nil", got)
				}
				return
			}
			stall, ok := errors.AsType[*reconcile.StallError](got)
			if tc.wantRecheck == [2]time.Duration{} {
				if ok || !errors.Is(got, tc.err) {
					t.Fatalf("holdUntilExpiry = %#v, want %v returned as is", got, tc.err)
				}
				return
			}
			if !ok || stall.Recheck < tc.wantRecheck[0] || stall.Recheck > tc.wantRecheck[1] {
				t.Fatalf("holdUntilExpiry = %#v, want a stall rechecking within %v", got, tc.wantRecheck)
			}
		})
	}
}

// Item: a delete after the predecessor expired must still resolve the successor's unfinished
// create. OnEnd: s1 times out, the successor's create commits s2 but its answer is lost, and the
// resource is deleted before the grace period is over.
func TestDeleteResolvesAnUnfinishedSuccessorAfterThePredecessorExpired(t *testing.T) {
	f := newRenewalFixture(t, &v1alpha1.Renewal{Policy: v1alpha1.RenewalOnEnd})
	f.reconcile()
	f.wantCurrent("s1", 1)

	f.clk.SetTime(testNow.Add(time.Hour + time.Second))
	f.ended("s1", browserbase.StatusTimedOut)
	f.commitThenFail()
	if _, err := f.reconcileAny(); err == nil {
		t.Fatal("the successor's create answered 500, yet the pass succeeded")
	}
	if err := f.c.Delete(context.Background(), f.get()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		res, _ := f.reconcileAny()
		if res.RequeueAfter == 0 {
			break
		}
		f.clk.Step(res.RequeueAfter)
	}
	if got := f.status("s2"); got == browserbase.StatusRunning {
		t.Fatalf("successor s2, made by the unfinished create, is %s after the delete", got)
	}
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: "bs"}, &v1alpha1.BrowserSession{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the resource is still there: %v", err)
	}
}
