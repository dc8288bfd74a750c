package browsersession

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// Item: a stale manager's Secret write is fenced. Manager A marks a renewal attempt and pauses
// past the grace period before its create; manager B resolves the attempt (nothing found), makes
// s2 and records it. A resumes and makes s3: the Secret must never be left on a session that is
// not the recorded one, nor on a released one.
func TestStaleManagerCannotWriteTheSecret(t *testing.T) {
	for _, getConnect := range []bool{true, false} {
		t.Run(fmt.Sprintf("get returns connect details: %t", getConnect), func(t *testing.T) {
			f := newRenewalFixture(t, beforeExpiry(10*time.Minute, time.Minute))
			f.reconcile()
			if !getConnect {
				f.withoutConnectOnGet()
			}
			rA, rB := f.r, f.newReconciler()
			req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "bs"}}
			f.clk.SetTime(testNow.Add(50 * time.Minute))
			inner := f.bb.CreateSessionFn
			paused := false
			f.bb.CreateSessionFn = func(ctx context.Context, k browserbase.Sensitive, r browserbase.CreateSessionRequest) (*browserbase.Session, error) {
				if !paused {
					paused = true
					f.clk.Step(11 * time.Second) // A is paused past the grace period; B takes over
					_, _ = rB.Reconcile(context.Background(), req)
				}
				return inner(ctx, k, r)
			}
			_, _ = rA.Reconcile(context.Background(), req)
			bs := f.get()
			if bs.Status.ID != "s2" {
				t.Fatalf("status.id %s, want B's s2", bs.Status.ID)
			}
			if got := string(f.secret().Data[SecretKeySessionID]); got != "s2" {
				t.Fatalf("Secret holds %s (status %s), want the recorded s2", got, f.status(got))
			}
			if got := f.status("s3"); got == browserbase.StatusRunning {
				t.Fatalf("A's unrecorded s3 is still %s", got)
			}
			f.clk.Step(time.Second)
			if _, err := rB.Reconcile(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			f.wantCurrent("s2", 2)
		})
	}
}

// Item: every new session is a new revision. A session replaced because its connect details are
// lost gets a new revision, so restart targets roll onto the replacement.
func TestReplacementIsANewRevision(t *testing.T) {
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "reader",
		Annotations: map[string]string{v1alpha1.AnnotationRestartOnRenewal: "bs"}}}
	renewal := beforeExpiry(10*time.Minute, time.Minute)
	renewal.RestartTargets = []v1alpha1.RestartTarget{{Kind: "Deployment", Name: "reader"}}
	f := newRenewalFixture(t, renewal, deploy)
	f.reconcile()
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	f.reconcile()
	f.wantCurrent("s2", 2)

	// The Secret is deleted; the manager restarts; Browserbase's get omits the connect details.
	if err := f.c.Delete(context.Background(), f.secret()); err != nil {
		t.Fatal(err)
	}
	f.withoutConnectOnGet()
	f.r = f.newReconciler()
	f.clk.Step(2 * time.Minute)
	for range 3 {
		f.clk.Step(time.Second)
		_, _ = f.reconcileAny()
	}
	bs := f.wantCurrent("s3", 3)
	mustGet(t, f.c, deploy)
	if got := deploy.Spec.Template.Annotations[v1alpha1.AnnotationSessionRevision]; got != "3" {
		t.Fatalf("restart target at revision %q, want 3 (status %d)", got, bs.Status.Revision)
	}
}
