package browsersession

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
)

func TestResolveUnfinishedCreate(t *testing.T) {
	withoutCredentials := func(id string) *browserbase.Session {
		return &browserbase.Session{ID: id, Status: browserbase.StatusRunning}
	}
	ended := func(id string) *browserbase.Session {
		return &browserbase.Session{ID: id, Status: browserbase.StatusCompleted}
	}
	cases := map[string]struct {
		sessions     []*browserbase.Session
		listErr      error
		pendingAge   time.Duration
		wantAdopted  string
		wantReleased []string
		wantWait     bool
		wantErr      bool
	}{
		"nothing was created: create again": {pendingAge: time.Minute},
		"one usable session is adopted": {
			sessions: []*browserbase.Session{usableSession("a")}, pendingAge: time.Minute, wantAdopted: "a",
		},
		"several: one is kept, the rest released": {
			sessions:    []*browserbase.Session{usableSession("a"), usableSession("b"), usableSession("c")},
			pendingAge:  time.Minute,
			wantAdopted: "a", wantReleased: []string{"b", "c"},
		},
		"without credentials a session is released and a new one created": {
			sessions: []*browserbase.Session{withoutCredentials("a")}, pendingAge: time.Minute,
			wantReleased: []string{"a"},
		},
		"the usable one is kept even when another comes first": {
			sessions:    []*browserbase.Session{withoutCredentials("a"), usableSession("b")},
			pendingAge:  time.Minute,
			wantAdopted: "b", wantReleased: []string{"a"},
		},
		"ended sessions are history, not leaks": {
			sessions: []*browserbase.Session{ended("a")}, pendingAge: time.Minute,
		},
		"within the grace period the list is not trusted yet": {pendingAge: 0, wantWait: true},
		"a failing list never leads to a blind create": {
			listErr: &browserbase.APIError{StatusCode: 503}, pendingAge: time.Minute, wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{
				Namespace: "ns", Name: "bs", UID: "uid-1",
				Annotations: map[string]string{
					v1alpha1.AnnotationCreateAttempt:     "0123456789abcdef",
					v1alpha1.AnnotationCreateAttemptedAt: clk.Now().Add(-tc.pendingAge).UTC().Format(time.RFC3339),
				},
			}}
			bb := newSessionStore(tc.sessions...).client()
			if tc.listErr != nil {
				bb.ListSessionsFn = func(context.Context, browserbase.Sensitive, browserbase.ListOptions) ([]browserbase.Session, error) {
					return nil, tc.listErr
				}
			}
			c := newFakeClient(bs.DeepCopy())
			r := &Reconciler{Client: c, APIReader: c, Browserbase: bb, CreateGracePeriod: 10 * time.Second, Kit: reconcile.Kit{Clock: clk}}

			got, err := r.resolveUnfinishedCreate(context.Background(), bs, "key")
			_, isWait := errors.AsType[*reconcile.WaitError](err)
			switch {
			case tc.wantWait:
				if !isWait {
					t.Fatalf("error = %v, want a wait", err)
				}
			case tc.wantErr:
				if err == nil || isWait {
					t.Fatalf("error = %v, want a transient error", err)
				}
			case err != nil:
				t.Fatalf("error = %v", err)
			}
			gotID := ""
			if got != nil {
				gotID = got.ID
			}
			if gotID != tc.wantAdopted {
				t.Errorf("adopted %q, want %q", gotID, tc.wantAdopted)
			}
			if diff := cmp.Diff(tc.wantReleased, ids(bb.CallsTo(browserbasetest.ReleaseSession))); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
			if n := len(bb.CallsTo(browserbasetest.CreateSession)); n != 0 {
				t.Errorf("resolving made %d creates, want none", n)
			}
			if bs.Status.ID != tc.wantAdopted {
				t.Errorf("status.id = %q, want %q", bs.Status.ID, tc.wantAdopted)
			}
			var queries []string
			for _, l := range bb.CallsTo(browserbasetest.ListSessions) {
				queries = append(queries, l.List.Query)
			}
			// By UID, to find what every earlier attempt made, and by token, which survives a
			// restore from backup (the UID does not).
			wantQueries := []string{"user_metadata['k8s']['uid']:'uid-1'", "user_metadata['k8s']['attempt']:'0123456789abcdef'"}
			if tc.wantWait {
				wantQueries = nil
			}
			if diff := cmp.Diff(wantQueries, queries); !tc.wantErr && diff != "" {
				t.Errorf("list queries (-want +got):\n%s", diff)
			}
		})
	}
}

// createOnce marks the attempt before calling create, and keeps the mark exactly when the
// outcome is unknown: a refusal clears it (nothing to look for), no answer or a 5xx keeps it, so
// that the next pass looks for the session before creating again.
func TestCreateOnce(t *testing.T) {
	cases := map[string]struct {
		answer        error
		queue         *queue.Queues
		wantID        string
		wantCreates   int
		wantAttempt   bool // the create-attempt annotation is on the stored resource afterwards
		wantStall     string
		wantWait      string
		wantTransient bool
	}{
		"a created session is returned and its attempt kept": {wantID: "new", wantCreates: 1, wantAttempt: true},
		"a 4xx clears the attempt and stalls": {
			answer: browserbasetest.Status(http.StatusBadRequest, "bad region"), wantCreates: 1, wantStall: v1alpha1.ReasonRequestRejected,
		},
		"a 429 clears the attempt and waits": {
			answer: browserbasetest.Status(http.StatusTooManyRequests, "slow down"), wantCreates: 1, wantWait: v1alpha1.ReasonRateLimited,
		},
		"a 5xx keeps the attempt: the session may exist": {
			answer: browserbasetest.Status(http.StatusBadGateway, "oops"), wantCreates: 1, wantAttempt: true, wantTransient: true,
		},
		"no answer keeps the attempt": {
			answer:      &browserbase.CallError{Method: "POST", Path: "/v1/sessions", Err: context.DeadlineExceeded},
			wantCreates: 1, wantAttempt: true, wantTransient: true,
		},
		"a queue closed by a 429 makes no call and no mark": {
			queue: closedQueue(), wantWait: v1alpha1.ReasonRateLimited,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "uid-1"}}
			c := newFakeClient(bs)
			mustGet(t, c, bs)
			clk := newFakeClock()
			bb := &browserbasetest.Client{
				CreateSessionFn: func(_ context.Context, _ browserbase.Sensitive, req browserbase.CreateSessionRequest) (*browserbase.Session, error) {
					clk.Step(30 * time.Second) // the call takes its time (a wait for a slot, a timeout)
					if tc.answer != nil {
						return nil, tc.answer
					}
					return usableSession("new"), nil
				},
			}
			r := &Reconciler{Client: c, Browserbase: bb, ClusterID: "cluster-a", Kit: reconcile.Kit{Clock: clk}}
			if tc.queue != nil {
				r.Queue = tc.queue
			}
			noSecret := newOwnedSecret(func() (*metav1.PartialObjectMetadata, error) { return nil, nil })

			sess, err := r.createOnce(ctx, &pass{bs: bs, apiKey: "key", queue: "q", secret: noSecret})

			creates := bb.CallsTo(browserbasetest.CreateSession)
			if len(creates) != tc.wantCreates {
				t.Fatalf("%d creates, want %d", len(creates), tc.wantCreates)
			}
			stored := &v1alpha1.BrowserSession{}
			stored.Namespace, stored.Name = "ns", "bs"
			mustGet(t, c, stored)
			token, hasAttempt := stored.Annotations[v1alpha1.AnnotationCreateAttempt]
			if hasAttempt != tc.wantAttempt {
				t.Errorf("create-attempt annotation present: %t, want %t (%v)", hasAttempt, tc.wantAttempt, stored.Annotations)
			}
			// The grace before the list is trusted counts from the end of a call whose outcome is
			// unknown, not from the mark before it.
			if at := stored.Annotations[v1alpha1.AnnotationCreateAttemptedAt]; tc.wantTransient && at != clk.Now().Format(time.RFC3339) {
				t.Errorf("create-attempted-at = %s, want the end of the failed call, %s", at, clk.Now().Format(time.RFC3339))
			}
			if len(creates) == 1 {
				tag, _ := creates[0].Request.UserMetadata[v1alpha1.ReservedMetadataKey].(map[string]any)
				if tag["uid"] != "uid-1" || tag["attempt"] == "" || tag["cluster"] != "cluster-a" {
					t.Errorf("the create is not tagged with the resource, an attempt and the cluster: %v", tag)
				}
				if hasAttempt && tag["attempt"] != token {
					t.Errorf("the session's attempt tag %v is not the annotation's %q", tag["attempt"], token)
				}
			}
			stall, isStall := errors.AsType[*reconcile.StallError](err)
			wait, isWait := errors.AsType[*reconcile.WaitError](err)
			switch {
			case tc.wantID != "":
				if err != nil || sess == nil || sess.ID != tc.wantID || bs.Status.ID != tc.wantID {
					t.Fatalf("createOnce = %v, %v; want session %s recorded", sess, err, tc.wantID)
				}
				if !controllerutil.ContainsFinalizer(stored, v1alpha1.Finalizer) {
					t.Errorf("no finalizer on a resource with a session")
				}
			case tc.wantStall != "":
				if !isStall || stall.Reason != tc.wantStall {
					t.Fatalf("error = %v, want a %s stall", err, tc.wantStall)
				}
			case tc.wantWait != "":
				if !isWait || wait.Reason != tc.wantWait {
					t.Fatalf("error = %v, want a %s wait", err, tc.wantWait)
				}
			case tc.wantTransient:
				if err == nil || isStall || isWait {
					t.Fatalf("error = %v, want a transient error", err)
				}
			}
		})
	}
}

// closedQueue is a create queue that has just seen a 429 for queue "q".
func closedQueue() *queue.Queues {
	q := queue.New(newFakeClock(), nil)
	q.Throttled("q", time.Minute, false)
	return q
}

// A newer attempt's annotations, written by another manager after this pass marked its own, are
// not this pass's to clear.
func TestClearCreateAttemptLeavesANewerAttempt(t *testing.T) {
	ctx := context.Background()
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "uid-1"}}
	c := newFakeClient(bs)
	mustGet(t, c, bs)
	r := &Reconciler{Client: c, Kit: reconcile.Kit{Clock: newFakeClock()}}
	if err := r.markCreateAttempt(ctx, bs, "mine"); err != nil {
		t.Fatal(err)
	}
	other := bs.DeepCopy()
	other.Annotations[v1alpha1.AnnotationCreateAttempt] = "theirs"
	if err := c.Update(ctx, other); err != nil {
		t.Fatal(err)
	}

	if err := r.clearCreateAttempt(ctx, bs); err == nil {
		t.Errorf("clearCreateAttempt succeeded over a newer attempt")
	}
	stored := &v1alpha1.BrowserSession{}
	stored.Namespace, stored.Name = "ns", "bs"
	mustGet(t, c, stored)
	if got := stored.Annotations[v1alpha1.AnnotationCreateAttempt]; got != "theirs" {
		t.Errorf("create-attempt = %q, want the newer attempt's %q kept", got, "theirs")
	}
}
