package browsersession

import (
	"context"
	"testing"
	"time"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
)

// ensureSession, first step: a new resource gets one session, recorded with the attempt's
// finalizer; a pass over a live session creates nothing.
func TestEnsureSessionCreatesOnceThenObserves(t *testing.T) {
	f := newRenewalFixture(t, nil)
	f.reconcile()
	f.wantCurrent("s1", 1)
	f.clk.Step(time.Minute)
	f.reconcile()
	if f.created != 1 {
		t.Fatalf("%d creates, want 1", f.created)
	}
	if gets := len(f.bb.CallsTo(browserbasetest.GetSession)); gets != 1 {
		t.Fatalf("%d gets, want the one of the second pass", gets)
	}
}

// Item: renewal switched to Never while a successor's create is unfinished. The unfinished
// create is resolved (its session adopted as the successor it was made to be, or released), and
// sweeps go on; nothing runs after the resource is gone.
func TestUnfinishedRenewalIsResolvedAfterThePolicyIsSwitchedToNever(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Minute, time.Minute))
	f.r.SweepInterval = time.Minute
	f.reconcile()
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	f.commitThenFail()
	_, _ = f.reconcileAny()
	if f.created != 2 || f.get().Status.ID != "s1" {
		t.Fatalf("setup: %d creates, status.id %s", f.created, f.get().Status.ID)
	}
	bs := f.get()
	bs.Spec.Renewal = &v1alpha1.Renewal{Policy: v1alpha1.RenewalNever}
	if err := f.c.Update(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.clk.Step(time.Minute)
		_, _ = f.reconcileAny()
	}
	bs = f.get()
	if unfinishedCreate(bs) {
		t.Fatalf("the create is still unfinished at %s: annotations %v", f.clk.Now().Sub(testNow), bs.Annotations)
	}
	if bs.Status.ID != "s2" {
		t.Fatalf("status.id %s: the successor s2, made and paid for, should have been adopted", bs.Status.ID)
	}
	if !ready(bs) || f.created != 2 {
		t.Fatalf("Ready %t after %d creates, want Ready with no create beyond the successor", ready(bs), f.created)
	}
	// The predecessor goes after its overlap, as with any renewal.
	if got := f.status("s1"); got == browserbase.StatusRunning {
		t.Fatalf("predecessor s1 is still %s after the overlap", got)
	}
	if err := f.c.Delete(context.Background(), f.get()); err != nil {
		t.Fatal(err)
	}
	_, _ = f.reconcileAny()
	for _, id := range []string{"s1", "s2"} {
		if f.status(id) == browserbase.StatusRunning {
			t.Errorf("%s still running after the delete", id)
		}
	}
}
