package browsersession

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/reconcile"
)

func taggedSession(id, cluster string) *browserbase.Session {
	s := usableSession(id)
	tag := map[string]any{"uid": "uid-1", "attempt": "0123456789abcdef"}
	if cluster != "" {
		tag["cluster"] = cluster
	}
	s.UserMetadata = map[string]any{v1alpha1.ReservedMetadataKey: tag}
	return s
}

// A leak (a session tagged with the resource that is not status.id, such as one a create
// committed after its answer was lost) is released by the sweep once it is due, and only
// sessions of this cluster are touched. A renewal's predecessor in its overlap is not a leak.
func TestSweepLeaks(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	bs := &v1alpha1.BrowserSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "uid-1"},
		Status:     v1alpha1.BrowserSessionStatus{ID: "mine", SessionStatus: "RUNNING", PreviousID: "renewed"},
	}
	store := newSessionStore(
		taggedSession("mine", "here"),
		taggedSession("renewed", "here"), // a renewal's predecessor, released after its overlap
		taggedSession("late-commit", "here"),
		taggedSession("older-operator", ""),
		taggedSession("standby-restore", "elsewhere"),
	)
	bb := store.client()
	events := &controllertest.Events{}
	r := &Reconciler{Browserbase: bb, ClusterID: "here", SweepInterval: time.Hour,
		Credentials: &reconcile.Credentials{Default: "key"},
		Kit:         reconcile.Kit{Recorder: events, Clock: clk},
	}

	r.sweepLeaks(ctx, bs, "key") // the first due time is spread over the first interval
	clk.Step(time.Hour)
	r.sweepLeaks(ctx, bs, "key")
	if diff := cmp.Diff([]string{"late-commit", "older-operator"}, ids(bb.CallsTo(browserbasetest.ReleaseSession))); diff != "" {
		t.Fatalf("released (-want +got):\n%s", diff)
	}

	// Not due again until the interval has passed.
	lists := len(bb.CallsTo(browserbasetest.ListSessions))
	clk.Step(30 * time.Minute)
	r.sweepLeaks(ctx, bs, "key")
	if n := len(bb.CallsTo(browserbasetest.ListSessions)); n != lists {
		t.Errorf("%d lists half an interval after a sweep, want none", n-lists)
	}
}

// A sweep asked for soon (after a create that followed an unfinished one) runs then, even with
// periodic sweeps off, and the poll comes back for it.
func TestSweepSoon(t *testing.T) {
	clk := newFakeClock()
	var s sweepSchedule
	if s.due("uid", clk.Now(), 0) {
		t.Fatal("a sweep is due with periodic sweeps off and none asked for")
	}
	s.soon("uid", clk.Now().Add(25*time.Second))
	if in, ok := s.nextSweepIn("uid", clk.Now()); !ok || in != 25*time.Second {
		t.Errorf("next sweep in %s, %t; want 25s", in, ok)
	}
	clk.Step(25 * time.Second)
	if !s.due("uid", clk.Now(), 0) {
		t.Fatal("the sweep asked for is not due")
	}
	s.done("uid", clk.Now(), 0)
	if s.due("uid", clk.Now().Add(time.Hour), 0) {
		t.Error("a sweep is due again with periodic sweeps off")
	}
}
