package browsersession

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
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
	f.r = &Reconciler{Client: c, APIReader: c, Clock: newFakeClock()}
	return f
}

// ownedSecret is the Secret the operator would have written for bs, with data.
func (f *secretFixture) ownedSecret(t *testing.T, data map[string]string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs-browserbase", Labels: map[string]string{ManagedByLabel: ManagedByValue}},
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
		if err := f.r.reconcileSecret(context.Background(), f.bs, sess, nil); err != nil {
			t.Fatal(err)
		}
		if got := f.read(t); got[SecretKeyConnectURL] != full[SecretKeyConnectURL] || got[SecretKeySigningKey] != full[SecretKeySigningKey] {
			t.Errorf("Secret = %v, want the session's credentials", got)
		}
	})

	t.Run("a digest hit writes and reads nothing", func(t *testing.T) {
		f := newSecretFixture(t, nil)
		ctx := context.Background()
		if err := f.r.reconcileSecret(ctx, f.bs, sess, nil); err != nil {
			t.Fatal(err)
		}
		found, err := f.r.startOwnedSecretRead(ctx, f.bs)()
		if err != nil || found == nil {
			t.Fatalf("the owned Secret is not found: %v", err)
		}
		before := f.writes.Load()
		if err := f.r.reconcileSecret(ctx, f.bs, sess, found); err != nil {
			t.Fatal(err)
		}
		if n := f.writes.Load() - before; n != 0 {
			t.Errorf("%d Secret writes for unchanged data, want none", n)
		}
	})

	t.Run("missing connect details keep the stored values", func(t *testing.T) {
		f := newSecretFixture(t, nil)
		ctx := context.Background()
		stored := f.ownedSecret(t, full)
		stored.Data[SecretKeyExpiresAt] = []byte("an older expiry")
		if err := f.r.Create(ctx, stored); err != nil {
			t.Fatal(err)
		}
		found, err := f.r.startOwnedSecretRead(ctx, f.bs)()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.r.reconcileSecret(ctx, f.bs, &withoutConnect, found); err != nil {
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

	t.Run("no connect details anywhere stalls", func(t *testing.T) {
		f := newSecretFixture(t, nil)
		err := f.r.reconcileSecret(context.Background(), f.bs, &withoutConnect, nil)
		if stall, ok := errors.AsType[*reconcile.StallError](err); !ok || stall.Reason != v1alpha1.ReasonConnectDetailsUnavailable {
			t.Fatalf("error = %v, want a %s stall", err, v1alpha1.ReasonConnectDetailsUnavailable)
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
		_, err := f.r.startOwnedSecretRead(context.Background(), f.bs)()
		if stall, ok := errors.AsType[*reconcile.StallError](err); !ok || stall.Reason != v1alpha1.ReasonSecretConflict {
			t.Fatalf("error = %v, want a %s stall", err, v1alpha1.ReasonSecretConflict)
		}
		if got := f.read(t); got["theirs"] != "keep" || len(got) != 1 {
			t.Errorf("the foreign Secret changed: %v", got)
		}
	})
}
