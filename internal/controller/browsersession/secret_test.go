package browsersession

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/scheme"
)

// secretFixture is a resource, perhaps its Secret, and a client that counts Secret writes.
type secretFixture struct {
	r      *Reconciler
	bs     *v1alpha1.BrowserSession
	writes atomic.Int32
}

func newSecretFixture(t *testing.T, existing *corev1.Secret) *secretFixture {
	t.Helper()
	f := &secretFixture{bs: &v1alpha1.BrowserSession{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BrowserSession"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "uid-1"},
	}}
	objs := []client.Object{f.bs.DeepCopy()}
	if existing != nil {
		objs = append(objs, existing)
	}
	count := func(obj client.Object) {
		if _, ok := obj.(*corev1.Secret); ok {
			f.writes.Add(1)
		}
	}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			count(obj)
			return c.Create(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			count(obj)
			return c.Patch(ctx, obj, p, opts...)
		},
	}).Build()
	f.r = &Reconciler{Client: c, APIReader: c, Kit: reconcile.Kit{Clock: newFakeClock()}}
	return f
}

// ownedSecret is the Secret the operator would have written for bs, with data.
func (f *secretFixture) ownedSecret(t *testing.T, data map[string]string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs-browserbase", Labels: map[string]string{operator.ManagedByLabel: operator.ManagedByValue}},
		Data:       map[string][]byte{},
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	isController := true
	s.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "BrowserSession", Name: "bs", UID: "uid-1", Controller: &isController,
	}}
	return s
}

// store creates the operator's Secret for bs with data, changed by change, and returns its
// metadata as a pass reads it.
func (f *secretFixture) store(t *testing.T, data map[string]string, change func(*corev1.Secret)) *metav1.PartialObjectMetadata {
	t.Helper()
	ctx := context.Background()
	stored := f.ownedSecret(t, data)
	change(stored)
	if err := f.r.Create(ctx, stored); err != nil {
		t.Fatal(err)
	}
	found, err := f.r.startOwnedSecretRead(ctx, f.bs).get()
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func (f *secretFixture) read(t *testing.T) map[string]string {
	t.Helper()
	s := &corev1.Secret{}
	if err := f.r.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: "bs-browserbase"}, s); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	return out
}

func TestReconcileSecret(t *testing.T) {
	sess := usableSession("s1")
	full := map[string]string{
		SecretKeySessionID: "s1", SecretKeyExpiresAt: sess.ExpiresAt.UTC().Format(time.RFC3339),
		SecretKeyConnectURL: sess.ConnectURL.Reveal(), SecretKeySeleniumRemoteURL: "", SecretKeySigningKey: sess.SigningKey.Reveal(),
	}
	withoutConnect := *sess
	withoutConnect.ConnectURL, withoutConnect.SigningKey = "", ""

	t.Run("a missing Secret is created with the credentials", func(t *testing.T) {
		f := newSecretFixture(t, nil)
		if err := f.r.reconcileSecret(context.Background(), f.bs, sess, nil, false); err != nil {
			t.Fatal(err)
		}
		if got := f.read(t); got[SecretKeyConnectURL] != full[SecretKeyConnectURL] || got[SecretKeySigningKey] != full[SecretKeySigningKey] {
			t.Errorf("Secret = %v, want the session's credentials", got)
		}
	})

	t.Run("a digest hit writes and reads nothing", func(t *testing.T) {
		f := newSecretFixture(t, nil)
		ctx := context.Background()
		if err := f.r.reconcileSecret(ctx, f.bs, sess, nil, false); err != nil {
			t.Fatal(err)
		}
		found, err := f.r.startOwnedSecretRead(ctx, f.bs).get()
		if err != nil || found == nil {
			t.Fatalf("the owned Secret is not found: %v", err)
		}
		before := f.writes.Load()
		if err := f.r.reconcileSecret(ctx, f.bs, sess, found, false); err != nil {
			t.Fatal(err)
		}
		if n := f.writes.Load() - before; n != 0 {
			t.Errorf("%d Secret writes for unchanged data, want none", n)
		}
	})

	t.Run("another session's stored connect details are not this one's", func(t *testing.T) {
		f := newSecretFixture(t, nil)
		ctx := context.Background()
		found := f.store(t, full, func(s *corev1.Secret) { s.Data[SecretKeySessionID] = []byte("an-older-session") })
		err := f.r.reconcileSecret(ctx, f.bs, &withoutConnect, found, false)
		if _, ok := errors.AsType[*connectDetailsLostError](err); !ok {
			t.Fatalf("error = %v, want the connect details lost", err)
		}
	})

	t.Run("missing connect details keep the stored values", func(t *testing.T) {
		f := newSecretFixture(t, nil)
		ctx := context.Background()
		found := f.store(t, full, func(s *corev1.Secret) { s.Data[SecretKeyExpiresAt] = []byte("an older expiry") })
		if err := f.r.reconcileSecret(ctx, f.bs, &withoutConnect, found, false); err != nil {
			t.Fatal(err)
		}
		got := f.read(t)
		if got[SecretKeyConnectURL] != full[SecretKeyConnectURL] || got[SecretKeySigningKey] != full[SecretKeySigningKey] {
			t.Errorf("the stored credentials were lost: %v", got)
		}
		if got[SecretKeyExpiresAt] != full[SecretKeyExpiresAt] {
			t.Errorf("expiresAt = %q, want the session's %q", got[SecretKeyExpiresAt], full[SecretKeyExpiresAt])
		}
	})

	t.Run("no connect details anywhere: the session is lost", func(t *testing.T) {
		f := newSecretFixture(t, nil)
		err := f.r.reconcileSecret(context.Background(), f.bs, &withoutConnect, nil, false)
		if _, ok := errors.AsType[*connectDetailsLostError](err); !ok {
			t.Fatalf("error = %v, want the connect details lost", err)
		}
		if n := f.writes.Load(); n != 0 {
			t.Errorf("%d Secret writes, want none", n)
		}
	})

	t.Run("a Secret of that name owned by no one stalls and is left alone", func(t *testing.T) {
		foreign := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs-browserbase"},
			Data:       map[string][]byte{"theirs": []byte("keep")},
		}
		f := newSecretFixture(t, foreign)
		_, err := f.r.startOwnedSecretRead(context.Background(), f.bs).get()
		if stall, ok := errors.AsType[*reconcile.StallError](err); !ok || stall.Reason != v1alpha1.ReasonSecretConflict {
			t.Fatalf("error = %v, want a %s stall", err, v1alpha1.ReasonSecretConflict)
		}
		if got := f.read(t); got["theirs"] != "keep" || len(got) != 1 {
			t.Errorf("the foreign Secret changed: %v", got)
		}
	})
}

// A running session whose connect details no one has any more (Browserbase's get does not
// return them, the Secret was never written, the create answer is gone with a restart) is
// released and replaced, not left to bill until its timeout while the resource stalls.
func TestLostConnectDetailsReplaceTheSession(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	expires := metav1.NewTime(testNow.Add(time.Hour))
	bs := &v1alpha1.BrowserSession{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "bs", UID: "uid-1", Generation: 1, Finalizers: []string{v1alpha1.Finalizer},
			Annotations: map[string]string{
				v1alpha1.AnnotationCreateAttempt:     "0123456789abcdef",
				v1alpha1.AnnotationCreateAttemptedAt: testNow.Add(-time.Minute).Format(time.RFC3339),
			},
		},
		Status: v1alpha1.BrowserSessionStatus{ID: "lost", SessionStatus: "RUNNING", ExpiresAt: &expires},
	}
	c := newFakeClient(bs)
	store := newSessionStore(&browserbase.Session{ID: "lost", Status: browserbase.StatusRunning, ExpiresAt: testNow.Add(time.Hour)})
	bb := store.client()
	bb.CreateSessionFn = func(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
		return usableSession("replacement"), nil
	}
	events := &controllertest.Events{}
	r := &Reconciler{
		Client: c, APIReader: c, Browserbase: bb, PollInterval: time.Minute,
		Credentials: &reconcile.Credentials{Default: "key"}, CreateGracePeriod: 10 * time.Second,
		Kit: reconcile.Kit{Recorder: events, Clock: clk},
	}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "bs"}}

	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	if got := ids(bb.CallsTo(browserbasetest.ReleaseSession)); !slices.Equal(got, []string{"lost"}) {
		t.Fatalf("released %v, want the session whose connect details are lost", got)
	}
	if !slices.Contains(events.Reasons(), "SessionReplaced") {
		t.Errorf("events %v, want SessionReplaced", events.Reasons())
	}
	mustGet(t, c, bs)
	if bs.Status.ID != "" {
		t.Fatalf("status.id = %q after the release, want it cleared", bs.Status.ID)
	}

	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatalf("second pass: %v", err)
	}
	mustGet(t, c, bs)
	if bs.Status.ID != "replacement" || len(bb.CallsTo(browserbasetest.CreateSession)) != 1 {
		t.Fatalf("status.id = %q after %d creates, want one replacement", bs.Status.ID, len(bb.CallsTo(browserbasetest.CreateSession)))
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "ns", Name: "bs-browserbase"}, secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data[SecretKeySessionID]) != "replacement" || len(secret.Data[SecretKeyConnectURL]) == 0 {
		t.Errorf("Secret = %v, want the replacement's credentials", secret.Data)
	}
}

// A Secret write that fails after a create does not lose the connect details while the manager
// runs: the next pass writes them, and no session is replaced.
func TestConnectDetailsOutliveAFailedSecretWrite(t *testing.T) {
	ctx := context.Background()
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "uid-1", Generation: 1}}
	failSecretCreates := true
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithStatusSubresource(&v1alpha1.BrowserSession{}).WithObjects(bs).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if _, ok := obj.(*corev1.Secret); ok && failSecretCreates {
					return errors.New("exceeded quota: secrets")
				}
				return c.Create(ctx, obj, opts...)
			},
		}).Build()
	store := newSessionStore()
	bb := store.client()
	bb.CreateSessionFn = func(context.Context, browserbase.Sensitive, browserbase.CreateSessionRequest) (*browserbase.Session, error) {
		s := usableSession("s1")
		withoutConnect := *s
		withoutConnect.ConnectURL, withoutConnect.SigningKey = "", ""
		store.sessions["s1"] = &withoutConnect // Browserbase's get does not return them
		return s, nil
	}
	r := &Reconciler{
		Client: c, APIReader: c, Browserbase: bb, PollInterval: time.Minute,
		Credentials: &reconcile.Credentials{Default: "key"}, CreateGracePeriod: 10 * time.Second,
		Kit: reconcile.Kit{Clock: newFakeClock()},
	}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "bs"}}
	if _, err := r.Reconcile(ctx, req); err == nil {
		t.Fatal("the first pass succeeded although its Secret write failed")
	}
	failSecretCreates = false
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatalf("second pass: %v", err)
	}
	if n := len(bb.CallsTo(browserbasetest.ReleaseSession)); n != 0 {
		t.Errorf("%d releases, want none: the connect details were still known", n)
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "ns", Name: "bs-browserbase"}, secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data[SecretKeyConnectURL]) != usableSession("s1").ConnectURL.Reveal() {
		t.Errorf("Secret connectUrl is not the session's")
	}
}
