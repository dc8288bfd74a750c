package browsersession

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/scheme"
)

func TestRenewBefore(t *testing.T) {
	hourLong := &browserbase.Session{StartedAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
	cases := map[string]struct {
		renewal     *v1alpha1.Renewal
		timeout     *int32
		sess        *browserbase.Session
		wantBefore  time.Duration
		wantTooLong bool
	}{
		"spec's value": {
			renewal: &v1alpha1.Renewal{Policy: v1alpha1.RenewalBeforeExpiry, RenewBefore: &metav1.Duration{Duration: 10 * time.Minute}},
			sess:    hourLong, wantBefore: 10 * time.Minute,
		},
		"a third of the lifetime by default": {
			renewal: &v1alpha1.Renewal{Policy: v1alpha1.RenewalBeforeExpiry}, sess: hourLong, wantBefore: 20 * time.Minute,
		},
		"a value that leaves no useful life gives way to the default": {
			renewal: &v1alpha1.Renewal{Policy: v1alpha1.RenewalBeforeExpiry, RenewBefore: &metav1.Duration{Duration: 59*time.Minute + 45*time.Second}},
			sess:    hourLong, wantBefore: 20 * time.Minute, wantTooLong: true,
		},
		"without a start time, the spec's timeout is the lifetime": {
			renewal: &v1alpha1.Renewal{Policy: v1alpha1.RenewalBeforeExpiry}, timeout: ptr.To[int32](600),
			sess: &browserbase.Session{ExpiresAt: testNow.Add(time.Hour)}, wantBefore: 200 * time.Second,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bs := &v1alpha1.BrowserSession{Spec: v1alpha1.BrowserSessionSpec{Renewal: tc.renewal, Timeout: tc.timeout}}
			before, tooLong := renewBefore(bs, tc.sess)
			if before != tc.wantBefore || tooLong != tc.wantTooLong {
				t.Errorf("renewBefore = %s, %v; want %s, %v", before, tooLong, tc.wantBefore, tc.wantTooLong)
			}
			if got, want := renewalTime(bs, tc.sess), tc.sess.ExpiresAt.Add(-tc.wantBefore); !got.Equal(want) {
				t.Errorf("renewalTime = %s, want %s", got, want)
			}
		})
	}
	t.Run("only BeforeExpiry has a renewal time", func(t *testing.T) {
		for _, p := range []v1alpha1.RenewalPolicy{v1alpha1.RenewalNever, v1alpha1.RenewalOnEnd} {
			bs := &v1alpha1.BrowserSession{Spec: v1alpha1.BrowserSessionSpec{Renewal: &v1alpha1.Renewal{Policy: p}}}
			if got := renewalTime(bs, hourLong); !got.IsZero() {
				t.Errorf("%s: renewalTime = %s, want none", p, got)
			}
		}
	})
}

// renewalFixture is a BrowserSession under spec.renewal, reconciled against a session store
// whose creates make hour-long sessions named s1, s2, … at the fake clock's time.
type renewalFixture struct {
	t       *testing.T
	clk     *clocktesting.FakeClock
	store   *sessionStore
	bb      *browserbasetest.Client
	c       client.WithWatch
	events  *controllertest.Events
	r       *Reconciler
	created int
}

func newRenewalFixture(t *testing.T, renewal *v1alpha1.Renewal, objs ...client.Object) *renewalFixture {
	t.Helper()
	f := &renewalFixture{t: t, clk: newFakeClock(), store: newSessionStore(), events: &controllertest.Events{}}
	bs := &v1alpha1.BrowserSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "uid-1", Generation: 1},
		Spec:       v1alpha1.BrowserSessionSpec{Renewal: renewal},
	}
	f.c = fake.NewClientBuilder().WithScheme(scheme.New()).WithStatusSubresource(&v1alpha1.BrowserSession{}).
		WithObjects(append(objs, bs)...).Build()
	f.bb = f.store.client()
	f.bb.CreateSessionFn = func(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
		return f.commit(), nil
	}
	f.r = f.newReconciler()
	return f
}

// commit makes the next session, s1, s2, …, hour-long from the fake clock's time, in the store.
func (f *renewalFixture) commit() *browserbase.Session {
	f.created++
	sess := usableSession(fmt.Sprintf("s%d", f.created))
	sess.StartedAt, sess.ExpiresAt = f.clk.Now(), f.clk.Now().Add(time.Hour)
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	cp := *sess
	f.store.sessions[sess.ID] = &cp
	return sess
}

// newReconciler is a manager (re)started: nothing in memory.
func (f *renewalFixture) newReconciler() *Reconciler {
	return &Reconciler{
		Client: f.c, APIReader: f.c, Browserbase: f.bb, PollInterval: time.Minute,
		Credentials: &reconcile.Credentials{Default: "key"}, CreateGracePeriod: 10 * time.Second,
		Kit:           reconcile.Kit{Recorder: f.events, Clock: f.clk},
		RenewalPolicy: DefaultRenewalPolicy,
	}
}

func (f *renewalFixture) reconcile() ctrl.Result {
	f.t.Helper()
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "bs"}})
	if err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
	return res
}

func (f *renewalFixture) get() *v1alpha1.BrowserSession {
	f.t.Helper()
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs"}}
	mustGet(f.t, f.c, bs)
	return bs
}

func (f *renewalFixture) secret() *corev1.Secret {
	f.t.Helper()
	s := &corev1.Secret{}
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: "bs-browserbase"}, s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *renewalFixture) ended(id string, status browserbase.SessionStatus) {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	f.store.sessions[id].Status = status
	endedAt := f.clk.Now()
	f.store.sessions[id].EndedAt = &endedAt
}

// wantCurrent checks that bs serves session id, at revision, Ready, with the Secret holding it.
func (f *renewalFixture) wantCurrent(id string, revision int64) *v1alpha1.BrowserSession {
	f.t.Helper()
	bs := f.get()
	if bs.Status.ID != id || bs.Status.Revision != revision {
		f.t.Fatalf("status.id %q revision %d, want %q revision %d", bs.Status.ID, bs.Status.Revision, id, revision)
	}
	if !meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
		f.t.Fatalf("not Ready: %+v", bs.Status.Conditions)
	}
	secret := f.secret()
	if string(secret.Data[SecretKeySessionID]) != id || string(secret.Data[SecretKeySigningKey]) != "sk-"+id {
		f.t.Fatalf("Secret holds session %q, want %q's credentials", secret.Data[SecretKeySessionID], id)
	}
	if got := secret.Annotations[v1alpha1.AnnotationSessionRevision]; got != fmt.Sprint(revision) {
		f.t.Fatalf("Secret revision annotation %q, want %d", got, revision)
	}
	return bs
}

func beforeExpiry(renewBefore, overlap time.Duration) *v1alpha1.Renewal {
	return &v1alpha1.Renewal{
		Policy:      v1alpha1.RenewalBeforeExpiry,
		RenewBefore: &metav1.Duration{Duration: renewBefore},
		Overlap:     &metav1.Duration{Duration: overlap},
	}
}

// Before expiry the successor takes the Secret while the predecessor serves on, Ready all along;
// the predecessor is released once its overlap is over.
func TestRenewalBeforeExpiry(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Minute, time.Minute))
	res := f.reconcile()
	bs := f.wantCurrent("s1", 1)
	if want := testNow.Add(50 * time.Minute); bs.Status.RenewalTime == nil || !bs.Status.RenewalTime.Time.Equal(want) {
		t.Fatalf("renewalTime %v, want %s", bs.Status.RenewalTime, want)
	}
	if res.RequeueAfter > time.Minute+6*time.Second {
		t.Errorf("requeue after %s, want the poll interval at most", res.RequeueAfter)
	}

	f.clk.SetTime(testNow.Add(49 * time.Minute))
	res = f.reconcile()
	f.wantCurrent("s1", 1)
	if res.RequeueAfter > time.Minute+time.Second {
		t.Errorf("requeue after %s a minute before the renewal time", res.RequeueAfter)
	}

	f.clk.SetTime(testNow.Add(50 * time.Minute))
	res = f.reconcile()
	bs = f.wantCurrent("s2", 2)
	if bs.Status.PreviousID != "s1" || bs.Status.LastRotationTime == nil || !bs.Status.LastRotationTime.Time.Equal(f.clk.Now()) {
		t.Fatalf("previousId %q lastRotationTime %v, want s1 and now", bs.Status.PreviousID, bs.Status.LastRotationTime)
	}
	if len(f.bb.CallsTo(browserbasetest.ReleaseSession)) != 0 {
		t.Fatal("the predecessor was released before its overlap")
	}
	if !slices.Contains(f.events.Reasons(), "SessionRenewed") {
		t.Errorf("events %v, want SessionRenewed", f.events.Reasons())
	}
	if res.RequeueAfter > time.Minute {
		t.Errorf("requeue after %s, want at the end of the overlap", res.RequeueAfter)
	}

	f.clk.Step(time.Minute)
	f.reconcile()
	bs = f.wantCurrent("s2", 2)
	if bs.Status.PreviousID != "" {
		t.Errorf("previousId %q after the overlap", bs.Status.PreviousID)
	}
	if got := ids(f.bb.CallsTo(browserbasetest.ReleaseSession)); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("released %v, want s1", got)
	}
	if f.created != 2 {
		t.Errorf("%d sessions created, want 2", f.created)
	}
}

// OnEnd replaces a session that ended, and only then; Never leaves it ended.
func TestRenewalOnEnd(t *testing.T) {
	f := newRenewalFixture(t, &v1alpha1.Renewal{Policy: v1alpha1.RenewalOnEnd})
	f.reconcile()
	bs := f.wantCurrent("s1", 1)
	if bs.Status.RenewalTime != nil {
		t.Errorf("renewalTime %v under OnEnd", bs.Status.RenewalTime)
	}
	f.clk.Step(59 * time.Minute)
	f.reconcile()
	f.wantCurrent("s1", 1)

	f.ended("s1", browserbase.StatusTimedOut)
	f.clk.Step(time.Minute)
	f.reconcile()
	bs = f.wantCurrent("s2", 2)
	if bs.Status.PreviousID != "" || len(f.bb.CallsTo(browserbasetest.ReleaseSession)) != 0 {
		t.Errorf("previousId %q, releases %v: an ended session needs no release", bs.Status.PreviousID, f.bb.CallsTo(browserbasetest.ReleaseSession))
	}

	t.Run("Never", func(t *testing.T) {
		f := newRenewalFixture(t, &v1alpha1.Renewal{Policy: v1alpha1.RenewalNever})
		f.reconcile()
		f.ended("s1", browserbase.StatusTimedOut)
		f.reconcile()
		bs := f.get()
		if !meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionStalled) || f.created != 1 {
			t.Errorf("stalled %v after %d creates, want a stall and no new session",
				meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionStalled), f.created)
		}
	})
}

// A manager that dies after the successor's create, before its status write, leaves the
// predecessor in status: the next manager finds the successor by its attempt token, adopts it,
// and neither duplicates it nor releases the predecessor early. Ready holds throughout.
func TestRenewalResumesAfterACrash(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Minute, time.Minute))
	f.reconcile()
	f.clk.SetTime(testNow.Add(50 * time.Minute))

	// The crash: the create succeeds, the status write never happens.
	crashing := f.r
	crashing.Client = interceptor.NewClient(f.c, interceptor.Funcs{
		SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
			return errors.New("manager killed")
		},
	})
	_, _ = crashing.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "bs"}})
	if f.created != 2 || f.get().Status.ID != "s1" {
		t.Fatalf("%d creates, status.id %q: want the successor made and not recorded", f.created, f.get().Status.ID)
	}

	f.r = f.newReconciler()
	res := f.reconcile()
	// Within the grace period the list is not trusted yet: status keeps the predecessor, Ready.
	// (The Secret already has the successor's credentials: its write preceded the crash.)
	bs := f.get()
	if bs.Status.ID != "s1" || !meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
		t.Fatalf("status.id %q, conditions %+v: want s1, Ready", bs.Status.ID, bs.Status.Conditions)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > 10*time.Second {
		t.Errorf("requeue after %s, want the end of the grace period", res.RequeueAfter)
	}
	if bs.Annotations[v1alpha1.AnnotationCreateRenews] != "s1" {
		t.Errorf("annotations %v, want the renewal's predecessor beside its token", bs.Annotations)
	}

	f.clk.Step(10 * time.Second)
	f.reconcile()
	bs = f.wantCurrent("s2", 2)
	if f.created != 2 || bs.Status.PreviousID != "s1" {
		t.Fatalf("%d creates, previousId %q: want s2 adopted, s1 still to release", f.created, bs.Status.PreviousID)
	}
	if len(f.bb.CallsTo(browserbasetest.ReleaseSession)) != 0 {
		t.Fatalf("released %v during the overlap", ids(f.bb.CallsTo(browserbasetest.ReleaseSession)))
	}
	f.clk.Step(time.Minute)
	f.reconcile()
	if got := ids(f.bb.CallsTo(browserbasetest.ReleaseSession)); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("released %v, want s1", got)
	}
}

// A successor Browserbase refuses leaves the predecessor serving and Ready; the refusal is a
// Warning event, and the renewal is tried again.
func TestRenewalFailureKeepsServing(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Minute, time.Minute))
	f.reconcile()
	f.bb.CreateSessionFn = func(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
		return nil, &browserbase.APIError{StatusCode: 401}
	}
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	res := f.reconcile()
	bs := f.wantCurrent("s1", 1)
	if meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionStalled) {
		t.Error("Stalled while the predecessor serves")
	}
	if !slices.Contains(f.events.Reasons(), "RenewalFailed") {
		t.Errorf("events %v, want RenewalFailed", f.events.Reasons())
	}
	if res.RequeueAfter <= 0 {
		t.Errorf("requeue after %s, want another try", res.RequeueAfter)
	}
}

// Only one session saves into a context at a time: the predecessor is released first, and the
// successor made once its state has had time to be saved.
func TestRenewalWithAPersistedContext(t *testing.T) {
	renewal := beforeExpiry(10*time.Minute, time.Minute)
	f := newRenewalFixture(t, renewal)
	bs := f.get()
	bs.Spec.BrowserSettings = &v1alpha1.BrowserSettings{Context: &v1alpha1.ContextReference{ID: "ctx-1", Persist: ptr.To(true)}}
	if err := f.c.Update(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	f.reconcile()
	f.wantCurrent("s1", 1)

	f.clk.SetTime(testNow.Add(50 * time.Minute))
	res := f.reconcile()
	if got := ids(f.bb.CallsTo(browserbasetest.ReleaseSession)); !slices.Equal(got, []string{"s1"}) || f.created != 1 {
		t.Fatalf("released %v with %d creates, want s1 released before any successor", got, f.created)
	}
	if res.RequeueAfter != contextSyncDelay {
		t.Errorf("requeue after %s, want %s", res.RequeueAfter, contextSyncDelay)
	}
	f.reconcile() // too soon
	if f.created != 1 {
		t.Fatalf("successor made before the context's state was saved")
	}
	f.clk.Step(contextSyncDelay)
	f.reconcile()
	bs = f.wantCurrent("s2", 2)
	if bs.Status.PreviousID != "" {
		t.Errorf("previousId %q: the predecessor is already released", bs.Status.PreviousID)
	}
}

// Restart targets get the revision on their pod template once per renewal, not for the first
// session, and a missing one does not hold the renewal.
func TestRestartTargets(t *testing.T) {
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "reader",
		Annotations: map[string]string{v1alpha1.AnnotationRestartOnRenewal: "bs"}}}
	renewal := beforeExpiry(10*time.Minute, time.Minute)
	renewal.RestartTargets = []v1alpha1.RestartTarget{{Kind: "Deployment", Name: "reader"}, {Kind: "StatefulSet", Name: "missing"}}
	f := newRenewalFixture(t, renewal, deploy)
	f.reconcile()
	mustGet(t, f.c, deploy)
	if got := deploy.Spec.Template.Annotations[v1alpha1.AnnotationSessionRevision]; got != "" {
		t.Fatalf("first session restarted the target (annotation %q)", got)
	}
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	f.reconcile()
	f.wantCurrent("s2", 2)
	mustGet(t, f.c, deploy)
	if got := deploy.Spec.Template.Annotations[v1alpha1.AnnotationSessionRevision]; got != "2" {
		t.Fatalf("pod template annotation %q, want 2", got)
	}
	if !slices.Contains(f.events.Reasons(), "RestartFailed") {
		t.Errorf("events %v, want RestartFailed for the missing target", f.events.Reasons())
	}
	rv := deploy.ResourceVersion
	f.clk.Step(time.Second)
	f.reconcile()
	mustGet(t, f.c, deploy)
	if deploy.ResourceVersion != rv {
		t.Error("the target was patched again for the same revision")
	}
}

// Deleting the resource during the overlap releases both sessions.
func TestDeleteDuringTheOverlap(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Minute, time.Minute))
	f.reconcile()
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	f.reconcile()
	if err := f.c.Delete(context.Background(), f.get()); err != nil {
		t.Fatal(err)
	}
	f.reconcile()
	released := ids(f.bb.CallsTo(browserbasetest.ReleaseSession))
	slices.Sort(released)
	if !slices.Equal(released, []string{"s1", "s2"}) {
		t.Errorf("released %v, want both sessions", released)
	}
}

// A renewal due while the last one's predecessor is still in its overlap releases that one
// first: at most two sessions run, and none drops out of status unreleased.
func TestRenewalDuringAnOverlap(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Minute, 2*time.Hour))
	f.reconcile()
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	f.reconcile()
	f.wantCurrent("s2", 2)
	f.clk.SetTime(testNow.Add(100 * time.Minute))
	f.reconcile()
	bs := f.wantCurrent("s3", 3)
	if bs.Status.PreviousID != "s2" {
		t.Errorf("previousId %q, want s2", bs.Status.PreviousID)
	}
	if got := ids(f.bb.CallsTo(browserbasetest.ReleaseSession)); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("released %v, want s1 before s3 was made", got)
	}
}
