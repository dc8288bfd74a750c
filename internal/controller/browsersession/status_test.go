package browsersession

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
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
	}{
		"a new session is recorded on a fresh copy":        {passMade: true, wantStored: "made-by-this-pass"},
		"a session recorded meanwhile is left alone":       {storedID: "recorded-elsewhere", passMade: true, wantStored: "recorded-elsewhere", wantRetry: true},
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
			r := &Reconciler{Client: c, APIReader: c}
			result, err := r.finalizeStatus(ctx, before, bs, ctrl.Result{}, nil)
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
			if got.Labels["team"] != "scraping" {
				t.Errorf("the label written meanwhile is gone: %v", got.Labels)
			}
		})
	}
}
