package controller

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// fakeBrowserbase is a browserbase.Client whose answers the test sets, and which records calls.
type fakeBrowserbase struct {
	sessions  map[string]*browserbase.Session // by id, as GET answers
	listErr   error
	lastQuery string
	released  []string
	creates   int
}

var _ browserbase.Client = &fakeBrowserbase{}

func (f *fakeBrowserbase) CreateSession(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
	f.creates++
	return &browserbase.Session{ID: "new", Status: browserbase.StatusRunning, ConnectURL: "wss://x/?signingKey=k", SigningKey: "k"}, nil
}

func (f *fakeBrowserbase) GetSession(_ context.Context, _ browserbase.Sensitive, id string) (*browserbase.Session, error) {
	if s, ok := f.sessions[id]; ok {
		return s, nil
	}
	return nil, &browserbase.APIError{StatusCode: 404}
}

func (f *fakeBrowserbase) ListSessions(_ context.Context, _ browserbase.Sensitive, opts browserbase.ListOptions) ([]browserbase.Session, error) {
	f.lastQuery = opts.Query
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []browserbase.Session
	for _, id := range slices.Sorted(maps.Keys(f.sessions)) {
		s := *f.sessions[id]
		s.ConnectURL, s.SigningKey = "", "" // list never carries them
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeBrowserbase) ReleaseSession(_ context.Context, _ browserbase.Sensitive, id string) (*browserbase.Session, error) {
	f.released = append(f.released, id)
	return f.sessions[id], nil
}

func TestResolveUnfinishedCreate(t *testing.T) {
	usable := func(id string) *browserbase.Session {
		return &browserbase.Session{ID: id, Status: browserbase.StatusRunning, ConnectURL: "wss://x/?signingKey=" + browserbase.Sensitive(id), SigningKey: "k-" + browserbase.Sensitive(id)}
	}
	withoutCredentials := func(id string) *browserbase.Session {
		return &browserbase.Session{ID: id, Status: browserbase.StatusRunning}
	}
	ended := func(id string) *browserbase.Session {
		return &browserbase.Session{ID: id, Status: browserbase.StatusCompleted}
	}
	cases := map[string]struct {
		sessions     map[string]*browserbase.Session
		listErr      error
		pendingAge   time.Duration
		wantAdopted  string
		wantReleased []string
		wantWait     bool
		wantErr      bool
	}{
		"nothing was created: create again": {
			sessions: map[string]*browserbase.Session{}, pendingAge: time.Minute,
		},
		"one usable session is adopted": {
			sessions: map[string]*browserbase.Session{"a": usable("a")}, pendingAge: time.Minute, wantAdopted: "a",
		},
		"several: one is kept, the rest released": {
			sessions:    map[string]*browserbase.Session{"a": usable("a"), "b": usable("b"), "c": usable("c")},
			pendingAge:  time.Minute,
			wantAdopted: "a", wantReleased: []string{"b", "c"},
		},
		"without credentials a session is released and a new one created": {
			sessions: map[string]*browserbase.Session{"a": withoutCredentials("a")}, pendingAge: time.Minute,
			wantReleased: []string{"a"},
		},
		"the usable one is kept even when another comes first": {
			sessions:    map[string]*browserbase.Session{"a": withoutCredentials("a"), "b": usable("b")},
			pendingAge:  time.Minute,
			wantAdopted: "b", wantReleased: []string{"a"},
		},
		"ended sessions are history, not leaks": {
			sessions: map[string]*browserbase.Session{"a": ended("a")}, pendingAge: time.Minute,
		},
		"within the grace period the list is not trusted yet": {
			sessions: map[string]*browserbase.Session{}, pendingAge: 0, wantWait: true,
		},
		"a failing list never leads to a blind create": {
			listErr: &browserbase.APIError{StatusCode: 503}, pendingAge: time.Minute, wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			_ = clientgoscheme.AddToScheme(scheme)
			_ = v1alpha1.AddToScheme(scheme)
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{
				Namespace: "ns", Name: "bs", UID: "uid-1",
				Annotations: map[string]string{
					v1alpha1.AnnotationCreateAttempt:     "0123456789abcdef",
					v1alpha1.AnnotationCreateAttemptedAt: time.Now().Add(-tc.pendingAge).UTC().Format(time.RFC3339),
				},
			}}
			bb := &fakeBrowserbase{sessions: tc.sessions, listErr: tc.listErr}
			r := &BrowserSessionReconciler{
				Client:            fake.NewClientBuilder().WithScheme(scheme).WithObjects(bs.DeepCopy()).Build(),
				Browserbase:       bb,
				CreateGracePeriod: 10 * time.Second,
			}

			got, err := r.resolveUnfinishedCreate(context.Background(), bs, "key")
			_, isWait := errors.AsType[*waitError](err)
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
			if diff := cmp.Diff(tc.wantReleased, bb.released); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
			if bb.creates != 0 {
				t.Errorf("resolving made %d creates, want none", bb.creates)
			}
			if bs.Status.ID != tc.wantAdopted {
				t.Errorf("status.id = %q, want %q", bs.Status.ID, tc.wantAdopted)
			}
			if !tc.wantWait && bb.lastQuery != "user_metadata['k8s']['attempt']:'0123456789abcdef'" {
				t.Errorf("listed with q=%q, want the attempt token's query", bb.lastQuery)
			}
		})
	}
}
