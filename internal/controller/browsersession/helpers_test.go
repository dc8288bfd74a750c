package browsersession

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/scheme"
)

// testNow is the fake clock's start: per-step tests run at a fixed time, not the wall clock.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newFakeClock() *clocktesting.FakeClock { return clocktesting.NewFakeClock(testNow) }

// newFakeClient is controller-runtime's fake client with the operator's scheme and the status
// subresource, holding objs.
func newFakeClient(objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(scheme.New()).
		WithStatusSubresource(&v1alpha1.BrowserSession{}).WithObjects(objs...).Build()
}

// sessionStore backs a browserbasetest.Client with sessions by id: get answers them (404 for
// others), list answers them without connect details (as Browserbase does), release ends them.
type sessionStore struct {
	mu       sync.Mutex
	sessions map[string]*browserbase.Session
}

func newSessionStore(sessions ...*browserbase.Session) *sessionStore {
	s := &sessionStore{sessions: map[string]*browserbase.Session{}}
	for _, sess := range sessions {
		s.sessions[sess.ID] = sess
	}
	return s
}

// client returns a fake whose get, list and release use the store; creates are refused unless
// the test sets CreateSessionFn.
func (s *sessionStore) client() *browserbasetest.Client {
	return &browserbasetest.Client{
		GetSessionFn: func(_ context.Context, _ browserbase.Sensitive, id string) (*browserbase.Session, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if sess, ok := s.sessions[id]; ok {
				cp := *sess
				return &cp, nil
			}
			return nil, browserbasetest.NotFound("GET", "/v1/sessions/"+id)
		},
		ListSessionsFn: func(context.Context, browserbase.Sensitive, browserbase.ListOptions) ([]browserbase.Session, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			var out []browserbase.Session
			for _, id := range slices.Sorted(maps.Keys(s.sessions)) {
				cp := *s.sessions[id]
				cp.ConnectURL, cp.SigningKey = "", ""
				out = append(out, cp)
			}
			return out, nil
		},
		ReleaseSessionFn: func(_ context.Context, _ browserbase.Sensitive, id string) (*browserbase.Session, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			sess, ok := s.sessions[id]
			if !ok {
				return nil, browserbasetest.NotFound("POST", "/v1/sessions/"+id)
			}
			sess.Status = browserbase.StatusCompleted
			cp := *sess
			return &cp, nil
		},
	}
}

func usableSession(id string) *browserbase.Session {
	return &browserbase.Session{
		ID: id, Status: browserbase.StatusRunning, ExpiresAt: testNow.Add(time.Hour),
		ConnectURL: "wss://connect.example/?signingKey=sk-" + browserbase.Sensitive(id), SigningKey: "sk-" + browserbase.Sensitive(id),
	}
}

// ids returns the session ids of calls.
func ids(calls []browserbasetest.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.ID)
	}
	return out
}

func mustGet(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
}

// reconcileAny runs one pass and returns its outcome, whatever it is.
func (f *renewalFixture) reconcileAny() (ctrl.Result, error) {
	return f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "bs"}})
}

// commitThenFail makes the next creates commit their session in the store and answer 500, as a
// create whose answer is lost.
func (f *renewalFixture) commitThenFail() {
	f.bb.CreateSessionFn = func(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
		f.commit()
		return nil, &browserbase.APIError{Method: "POST", Path: "/v1/sessions", StatusCode: 500}
	}
}

// status is what Browserbase says of session id.
func (f *renewalFixture) status(id string) browserbase.SessionStatus {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	return f.store.sessions[id].Status
}

// withoutConnectOnGet makes Browserbase's get answer without the connect details, as it may.
func (f *renewalFixture) withoutConnectOnGet() {
	inner := f.bb.GetSessionFn
	f.bb.GetSessionFn = func(ctx context.Context, k browserbase.Sensitive, id string) (*browserbase.Session, error) {
		s, err := inner(ctx, k, id)
		if s != nil {
			s.ConnectURL, s.SigningKey = "", ""
		}
		return s, err
	}
}

// ready reports whether bs is Ready.
func ready(bs *v1alpha1.BrowserSession) bool {
	return meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady)
}
