package browsersession

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// A status write meets a conflict when someone changed the resource during the pass (a label
// added while the create was in flight). The id of a session the pass made must still be
// recorded; a status the pass computed from an older copy must not overwrite a newer one.
func TestFinalizeStatusThroughAConflict(t *testing.T) {
	cases := map[string]struct {
		storedID   string // the session id already in status when the pass writes
		passMade   bool   // the pass created or adopted a session
		wantStored string
		wantRetry  bool
		// Record or release, never neither: a session this pass made that cannot be recorded is
		// released, or it would bill with nothing tracking it.
		wantReleased []string
	}{
		"a new session is recorded on a fresh copy": {passMade: true, wantStored: "made-by-this-pass"},
		"a session recorded meanwhile is kept, and this pass's released": {
			storedID: "recorded-elsewhere", passMade: true, wantStored: "recorded-elsewhere", wantRetry: true,
			wantReleased: []string{"made-by-this-pass"},
		},
		"a pass that made nothing retries, writes nothing": {storedID: "recorded-elsewhere", wantStored: "recorded-elsewhere", wantRetry: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := newFakeClient(&v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", Generation: 1}})
			key := client.ObjectKey{Namespace: "ns", Name: "bs"}
			bs := &v1alpha1.BrowserSession{}
			if err := c.Get(ctx, key, bs); err != nil {
				t.Fatal(err)
			}
			before := bs.DeepCopy()

			// Meanwhile: a label, and perhaps a status another pass wrote.
			other := bs.DeepCopy()
			other.Labels = map[string]string{"team": "scraping"}
			if err := c.Update(ctx, other); err != nil {
				t.Fatal(err)
			}
			if tc.storedID != "" {
				other.Status.ID = tc.storedID
				if err := c.Status().Update(ctx, other); err != nil {
					t.Fatal(err)
				}
			}

			if tc.passMade {
				bs.Status.ID = "made-by-this-pass"
			}
			bs.Status.SessionStatus = "RUNNING"
			bb := newSessionStore(usableSession("made-by-this-pass"), usableSession("recorded-elsewhere")).client()
			events := &controllertest.Events{}
			r := &Reconciler{Client: c, APIReader: c, Browserbase: bb,
				Credentials: &reconcile.Credentials{Default: "key"},
				Kit:         reconcile.Kit{Recorder: events, Clock: newFakeClock()},
			}
			result, err := r.FinalizeStatus(ctx, r.Client, before, bs, ctrl.Result{}, nil, r.onStatusConflict(before, bs))
			if err != nil {
				t.Fatalf("finalizeStatus: %v", err)
			}
			if retried := result.RequeueAfter > 0; retried != tc.wantRetry {
				t.Errorf("requeued after %s, want a requeue: %t", result.RequeueAfter, tc.wantRetry)
			}
			got := &v1alpha1.BrowserSession{}
			if err := c.Get(ctx, key, got); err != nil {
				t.Fatal(err)
			}
			if got.Status.ID != tc.wantStored {
				t.Errorf("status.id = %q, want %q", got.Status.ID, tc.wantStored)
			}
			if diff := cmp.Diff(tc.wantReleased, ids(bb.CallsTo(browserbasetest.ReleaseSession))); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
			if len(tc.wantReleased) > 0 && !slices.Contains(events.Reasons(), "SessionReleased") {
				t.Errorf("events %v, want a SessionReleased warning", events.Reasons())
			}
			if got.Labels["team"] != "scraping" {
				t.Errorf("the label written meanwhile is gone: %v", got.Labels)
			}
		})
	}
}
