package browsersession

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
)

// restartFixture is a renewal fixture whose BrowserSession "bs" names restart targets, with the
// workload patches counted and the API reader's and client's errors injectable.
type restartFixture struct {
	*renewalFixture
	patches atomic.Int32
	// getErr and patchErr, when set, answer every read or patch of a workload.
	getErr, patchErr func() error
	// afterGet runs once a workload is read, before the operator patches it.
	afterGet func()
}

func newRestartFixture(t *testing.T, targets []v1alpha1.RestartTarget, objs ...client.Object) *restartFixture {
	t.Helper()
	renewal := beforeExpiry(10*time.Minute, time.Minute)
	renewal.RestartTargets = targets
	f := &restartFixture{renewalFixture: newRenewalFixture(t, renewal, objs...)}
	isWorkload := func(obj client.Object) bool {
		switch obj.(type) {
		case *appsv1.Deployment, *appsv1.StatefulSet:
			return true
		}
		return false
	}
	f.r.APIReader = interceptor.NewClient(f.c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if isWorkload(obj) && f.getErr != nil {
				return f.getErr()
			}
			err := c.Get(ctx, key, obj, opts...)
			if isWorkload(obj) && err == nil && f.afterGet != nil {
				f.afterGet()
			}
			return err
		},
	})
	f.r.Client = interceptor.NewClient(f.c, interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if !isWorkload(obj) {
				return c.Patch(ctx, obj, patch, opts...)
			}
			if f.patchErr != nil {
				return f.patchErr()
			}
			f.patches.Add(1)
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
	return f
}

// renew makes the successor (revision 2) current and runs its first pass.
func (f *restartFixture) renew() {
	f.t.Helper()
	f.reconcile()
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	f.reconcile()
	f.wantCurrent("s2", 2)
}

// revisionOf is the session revision on the workload's pod template ("" for none).
func (f *restartFixture) revisionOf(d *appsv1.Deployment) string {
	f.t.Helper()
	mustGet(f.t, f.c, d)
	return d.Spec.Template.Annotations[v1alpha1.AnnotationSessionRevision]
}

func eventsWithReason(events *controllertest.Events, reason string) []controllertest.Event {
	var out []controllertest.Event
	for _, e := range events.All() {
		if e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func deployment(name string, optIn string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	if optIn != "" {
		d.Annotations = map[string]string{v1alpha1.AnnotationRestartOnRenewal: optIn}
	}
	return d
}

var readerTarget = []v1alpha1.RestartTarget{{Kind: "Deployment", Name: "reader"}}

// A workload that does not name the BrowserSession in its opt-in annotation is never patched:
// one RestartRefused event per revision names the annotation to add, and once the owner adds it
// the next ordinary pass restarts the workload, without waiting for another renewal.
func TestRestartTargetWithoutOptInIsRefused(t *testing.T) {
	for name, optIn := range map[string]string{
		"no annotation":           "",
		"other sessions":          "other, bs-2",
		"a prefix of the name":    "b",
		"the name inside another": "xbs",
	} {
		t.Run(name, func(t *testing.T) {
			d := deployment("reader", optIn)
			f := newRestartFixture(t, readerTarget, d)
			f.renew()
			if got := f.revisionOf(d); got != "" || f.patches.Load() != 0 {
				t.Fatalf("revision %q after %d patches, want the workload untouched", got, f.patches.Load())
			}
			refused := eventsWithReason(f.events, "RestartRefused")
			if len(refused) != 1 || refused[0].Type != "Warning" {
				t.Fatalf("events %+v, want one Warning RestartRefused", f.events.All())
			}
			for _, want := range []string{"Deployment reader", v1alpha1.AnnotationRestartOnRenewal, "Add bs "} {
				if !strings.Contains(refused[0].Note, want) {
					t.Errorf("note %q does not say %q", refused[0].Note, want)
				}
			}

			f.clk.Step(time.Minute)
			f.reconcile()
			if n := len(eventsWithReason(f.events, "RestartRefused")); n != 1 || f.patches.Load() != 0 {
				t.Fatalf("%d RestartRefused events and %d patches after a second pass, want 1 and 0", n, f.patches.Load())
			}

			d.Annotations = map[string]string{v1alpha1.AnnotationRestartOnRenewal: "other,bs"}
			if err := f.c.Update(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			f.clk.Step(time.Minute)
			f.reconcile()
			if got := f.revisionOf(d); got != "2" {
				t.Fatalf("revision %q once the workload opted in, want 2", got)
			}
		})
	}
}

// A workload that opts in restarts once per revision: not for the first session, once for the
// second (also when its annotation lists other BrowserSessions), never again for the same
// revision, not even after an operator restart, and once more for the third.
func TestRestartTargetWithOptInRestartsOncePerRevision(t *testing.T) {
	d := deployment("reader", "other , bs")
	f := newRestartFixture(t, readerTarget, d)
	f.reconcile()
	if got := f.revisionOf(d); got != "" {
		t.Fatalf("the first session restarted the workload (revision %q)", got)
	}
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	f.reconcile()
	f.wantCurrent("s2", 2)
	if got := f.revisionOf(d); got != "2" || f.patches.Load() != 1 {
		t.Fatalf("revision %q after %d patches, want 2 after 1", got, f.patches.Load())
	}
	for range 3 {
		f.clk.Step(20 * time.Second)
		f.reconcile()
	}
	f.r = f.newReconcilerWith(f.r) // an operator restart: nothing remembered
	f.reconcile()
	if n := f.patches.Load(); n != 1 {
		t.Fatalf("%d patches for revision 2, want 1", n)
	}

	f.clk.SetTime(testNow.Add(50*time.Minute + 51*time.Minute))
	f.reconcile()
	f.wantCurrent("s3", 3)
	if got := f.revisionOf(d); got != "3" || f.patches.Load() != 2 {
		t.Fatalf("revision %q after %d patches, want 3 after 2", got, f.patches.Load())
	}
	for _, reason := range []string{"RestartRefused", "RestartForbidden", "RestartFailed"} {
		if e := eventsWithReason(f.events, reason); len(e) != 0 {
			t.Errorf("unexpected events %+v", e)
		}
	}
}

// newReconcilerWith is a restarted operator with the same clients.
func (f *restartFixture) newReconcilerWith(old *Reconciler) *Reconciler {
	r := f.newReconciler()
	r.Client, r.APIReader = old.Client, old.APIReader
	return r
}

// Without the rights on workloads (the default install), the operator says once per revision how
// to install them, retries only at its ordinary passes, keeps the session Ready, and restarts the
// workload once the rights are there.
func TestRestartTargetForbidden(t *testing.T) {
	forbidden := func() error {
		return apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "reader",
			errors.New(`User "system:serviceaccount:browserbase-operator-system:browserbase-operator-controller-manager" cannot get resource`))
	}
	for name, deny := range map[string]func(f *restartFixture, on bool){
		"get": func(f *restartFixture, on bool) {
			f.getErr = nil
			if on {
				f.getErr = forbidden
			}
		},
		"patch": func(f *restartFixture, on bool) {
			f.patchErr = nil
			if on {
				f.patchErr = forbidden
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := deployment("reader", "bs")
			db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db",
				Annotations: map[string]string{v1alpha1.AnnotationRestartOnRenewal: "bs"}}}
			f := newRestartFixture(t, []v1alpha1.RestartTarget{{Kind: "Deployment", Name: "reader"}, {Kind: "StatefulSet", Name: "db"}}, d, db)
			deny(f, true)
			f.renew()
			res := f.reconcile()
			if res.RequeueAfter != 0 && res.RequeueAfter < 20*time.Second {
				t.Errorf("requeue after %s: a refusal must not speed up the passes", res.RequeueAfter)
			}
			f.clk.Step(time.Minute)
			f.reconcile()
			f.wantCurrent("s2", 2)

			got := eventsWithReason(f.events, "RestartForbidden")
			if len(got) != 1 || got[0].Type != "Warning" {
				t.Fatalf("events %+v, want one Warning RestartForbidden", f.events.All())
			}
			for _, want := range []string{"Deployment reader", "StatefulSet db", "restartTargets.enabled=true", "config/components/restart-targets"} {
				if !strings.Contains(got[0].Note, want) {
					t.Errorf("note %q does not say %q", got[0].Note, want)
				}
			}
			if e := eventsWithReason(f.events, "RestartFailed"); len(e) != 0 {
				t.Errorf("a missing right reported as a failure: %+v", e)
			}
			if rev := f.revisionOf(d); rev != "" {
				t.Fatalf("revision %q without the rights", rev)
			}

			deny(f, false) // the chart value is enabled
			f.clk.Step(time.Minute)
			f.reconcile()
			if rev := f.revisionOf(d); rev != "2" {
				t.Fatalf("revision %q once the rights are installed, want 2", rev)
			}
			mustGet(t, f.c, db)
			if rev := db.Spec.Template.Annotations[v1alpha1.AnnotationSessionRevision]; rev != "2" {
				t.Fatalf("StatefulSet revision %q once the rights are installed, want 2", rev)
			}
			if n := len(eventsWithReason(f.events, "RestartForbidden")); n != 1 {
				t.Errorf("%d RestartForbidden events, want 1", n)
			}
		})
	}
}

// The opt-in is checked on the object that is patched: one withdrawn between the read and the
// patch is honoured.
func TestRestartTargetOptInWithdrawnBeforeThePatch(t *testing.T) {
	d := deployment("reader", "bs")
	f := newRestartFixture(t, readerTarget, d)
	f.reconcile()
	f.afterGet = func() {
		f.afterGet = nil
		cur := &appsv1.Deployment{}
		if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(d), cur); err != nil {
			t.Fatal(err)
		}
		cur.Annotations = nil
		if err := f.c.Update(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	f.reconcile()
	f.wantCurrent("s2", 2)
	if got := f.revisionOf(d); got != "" {
		t.Fatalf("revision %q: patched after the opt-in was withdrawn", got)
	}
	if n := len(eventsWithReason(f.events, "RestartRefused")); n != 1 {
		t.Errorf("events %+v, want one RestartRefused", f.events.All())
	}
}

// The overlap counts from the restart targets' rollout: a patch that fails for a reason worth
// retrying leaves lastRotationTime unset, and the predecessor running, until it succeeds.
func TestOverlapWaitsForTheRestartTargetsRollout(t *testing.T) {
	f := newRestartFixture(t, readerTarget, deployment("reader", "bs"))
	f.patchErr = func() error { return apierrors.NewServiceUnavailable("etcd") }
	f.reconcile()
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	_, _ = f.reconcileAny()
	if bs := f.get(); bs.Status.ID != "s2" || bs.Status.LastRotationTime != nil {
		t.Fatalf("status.id %s lastRotationTime %v: the rollout has not started", bs.Status.ID, bs.Status.LastRotationTime)
	}
	f.clk.Step(5 * time.Minute)
	_, _ = f.reconcileAny()
	if got := f.status("s1"); got != browserbase.StatusRunning {
		t.Fatalf("predecessor %s while its consumers have not been restarted", got)
	}
	f.patchErr = nil
	f.clk.Step(time.Second)
	f.reconcile()
	bs := f.get()
	if bs.Status.LastRotationTime == nil || !bs.Status.LastRotationTime.Time.Equal(f.clk.Now().Truncate(time.Second)) {
		t.Fatalf("lastRotationTime %v, want the rollout's start %s", bs.Status.LastRotationTime, f.clk.Now())
	}
}
