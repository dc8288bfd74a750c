package browsercontext

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
)

// A Secret write that fails after the create keeps the id in memory: the next pass writes it
// and creates nothing.
func TestSecretWriteRetriedWithoutCreate(t *testing.T) {
	bc := newBrowserContext("profile")
	failed := false
	c := newFakeClient(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*corev1.Secret); ok && !failed {
				failed = true
				return apierrors.NewServiceUnavailable("etcd is having a moment")
			}
			return c.Create(ctx, obj, opts...)
		},
	}, bc)
	store := newContextStore()
	bb := store.client()
	r, _ := newReconciler(c, bb)
	if _, err := reconcileOnce(t, r, bc); err == nil {
		t.Fatal("Reconcile succeeded, want the Secret write's error")
	}
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	if n := len(bb.CallsTo(browserbasetest.CreateContext)); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	secret := ownedSecret(bc, "")
	mustGet(t, c, secret)
	if !store.has(string(secret.Data[SecretKeyContextID])) {
		t.Errorf("Secret holds %q, want the created context", secret.Data[SecretKeyContextID])
	}
}

// A Secret someone deletes while the resource stays is kept by the finalizer, and the resource
// stalls: a person chooses between deleting the context and forgetting it.
func TestSecretBeingDeletedStalls(t *testing.T) {
	const id = "0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
	bc := newBrowserContext("profile")
	bc.Finalizers = []string{v1alpha1.ContextFinalizer}
	secret := ownedSecret(bc, id)
	secret.DeletionTimestamp = &metav1.Time{Time: testNow}
	c := newFakeClient(interceptor.Funcs{}, bc, secret)
	bb := newContextStore(id).client()
	r, events := newReconciler(c, bb)
	_, err := reconcileOnce(t, r, bc)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, bc)
	if stalled := condition(bc, v1alpha1.ConditionStalled); stalled == nil || stalled.Reason != v1alpha1.ReasonSecretDeleting {
		t.Errorf("Stalled = %+v, want reason %s", stalled, v1alpha1.ReasonSecretDeleting)
	}
	if len(bb.CallsTo(browserbasetest.CreateContext)) != 0 {
		t.Errorf("calls = %v, want no create", bb.Calls())
	}
	assertNoID(t, id, bc, events, err)
}
