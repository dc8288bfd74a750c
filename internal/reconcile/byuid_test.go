package reconcile

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/scheme"
)

func TestByUID(t *testing.T) {
	var b ByUID[int]
	if _, ok := b.Get("a"); ok {
		t.Fatal("the zero value knows something")
	}
	b.Set("a", 1)
	b.Update("a", func(v int, ok bool) (int, bool) { return v + 1, ok })
	b.Update("b", func(v int, ok bool) (int, bool) { return 7, !ok })
	if v, _ := b.Get("a"); v != 2 {
		t.Fatalf("a = %d, want 2", v)
	}
	if v, _ := b.Get("b"); v != 7 {
		t.Fatalf("b = %d, want 7", v)
	}
	b.Update("b", func(int, bool) (int, bool) { return 0, false })
	b.Forget("a")
	if b.Len() != 0 {
		t.Fatalf("%d entries left, want none", b.Len())
	}
}

// What is remembered of a resource is forgotten however it goes: its delete, a pass that finds
// it gone (deleted while the manager was down, or its finalizer removed by a person), or a new
// object under its name.
func TestMemoryForgetsResourcesThatAreGone(t *testing.T) {
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", UID: "uid-1"}}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(bs).Build()
	var m Memory
	var state ByUID[string]
	m.Register(&state)
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "a"}}
	ctx := context.Background()

	got := &v1alpha1.BrowserSession{}
	if found, err := m.Fetch(ctx, c, req, got); !found || err != nil {
		t.Fatalf("Fetch = %t, %v", found, err)
	}
	state.Set(got.UID, "connect details")
	if err := c.Delete(ctx, bs); err != nil {
		t.Fatal(err)
	}
	if found, err := m.Fetch(ctx, c, req, &v1alpha1.BrowserSession{}); found || err != nil {
		t.Fatalf("Fetch of a deleted resource = %t, %v", found, err)
	}
	if state.Len() != 0 || m.Tracked() != 0 {
		t.Fatalf("a resource not found is still remembered: %d entries, %d names", state.Len(), m.Tracked())
	}

	// A new object under the same name: the old UID's state goes.
	state.Set("uid-1", "old")
	m.Seen(&v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", UID: "uid-1"}})
	m.Seen(&v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", UID: "uid-2"}})
	if _, ok := state.Get("uid-1"); ok {
		t.Fatal("the state of the replaced object is kept")
	}
}

func TestMemoryFetchReturnsOtherErrors(t *testing.T) {
	var m Memory
	c := fake.NewClientBuilder().WithScheme(scheme.New()).Build()
	failing := failingReader{Reader: c, err: apierrors.NewServiceUnavailable("etcd")}
	found, err := m.Fetch(context.Background(), failing, ctrl.Request{}, &v1alpha1.BrowserSession{})
	if found || !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("Fetch = %t, %v; want the read's error", found, err)
	}
}

type failingReader struct {
	client.Reader
	err error
}

func (f failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return f.err
}
