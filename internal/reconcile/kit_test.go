package reconcile

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/scheme"
)

func newContext(objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(scheme.New()).WithStatusSubresource(&v1alpha1.BrowserContext{}).WithObjects(objs...).Build()
}

// FinalizeStatus writes status only when it changed, with observedGeneration, and a stall once.
func TestFinalizeStatus(t *testing.T) {
	ctx := context.Background()
	bc := &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", Generation: 3}}
	c := newContext(bc)
	var writes int
	counting := interceptor.NewClient(c, interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			writes++
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
	k := &Kit{}
	fresh := func() (*v1alpha1.BrowserContext, *v1alpha1.BrowserContext) {
		obj := &v1alpha1.BrowserContext{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(bc), obj); err != nil {
			t.Fatal(err)
		}
		return obj.DeepCopy(), obj
	}

	before, obj := fresh()
	stall := Stalled(v1alpha1.ReasonInvalidSpec, "fix the spec")
	if _, err := k.FinalizeStatus(ctx, counting, before, obj, ctrl.Result{}, stall, nil); err != nil {
		t.Fatal(err)
	}
	if writes != 1 {
		t.Fatalf("%d status writes, want 1", writes)
	}
	_, stored := fresh()
	if stored.Status.ObservedGeneration != 3 || !isTrue(stored.Status.Conditions, v1alpha1.ConditionStalled) {
		t.Fatalf("stored status %+v: want observedGeneration 3 and Stalled", stored.Status)
	}
	before, obj = fresh()
	if _, err := k.FinalizeStatus(ctx, counting, before, obj, ctrl.Result{}, stall, nil); err != nil {
		t.Fatal(err)
	}
	if writes != 1 {
		t.Fatalf("an unchanged status was written again (%d writes)", writes)
	}
}

// A conflict goes to the hook when there is one, and otherwise requeues quietly.
func TestFinalizeStatusConflict(t *testing.T) {
	ctx := context.Background()
	bc := &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", Generation: 1}}
	conflicting := interceptor.NewClient(newContext(bc), interceptor.Funcs{
		SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
			return apierrors.NewConflict(schema.GroupResource{Resource: "browsercontexts"}, "c", nil)
		},
	})
	k := &Kit{}
	obj := bc.DeepCopy()
	obj.Status.RedactedID = "abcd…"
	res, err := k.FinalizeStatus(ctx, conflicting, bc, obj, ctrl.Result{}, nil, nil)
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("conflict without hook = %v, %v; want a quiet requeue", res, err)
	}
	called := false
	_, _ = k.FinalizeStatus(ctx, conflicting, bc, obj, ctrl.Result{}, nil, func(_ context.Context, conflict error) error {
		called = apierrors.IsConflict(conflict)
		return nil
	})
	if !called {
		t.Fatal("the conflict hook was not given the conflict")
	}
}

func TestEnsureAndRemoveFinalizer(t *testing.T) {
	ctx := context.Background()
	bc := &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}}
	c := newContext(bc)
	obj := &v1alpha1.BrowserContext{}
	_ = c.Get(ctx, client.ObjectKeyFromObject(bc), obj)
	if err := EnsureFinalizer(ctx, c, obj, "f"); err != nil {
		t.Fatal(err)
	}
	stale := obj.DeepCopy()
	stale.ResourceVersion = "1"
	if err := EnsureFinalizer(ctx, c, obj, "f"); err != nil {
		t.Fatalf("second ensure wrote: %v", err)
	}
	if err := RemoveFinalizer(ctx, c, stale, "f"); !apierrors.IsConflict(err) {
		t.Fatalf("remove from a stale copy = %v, want a conflict", err)
	}
	if err := RemoveFinalizer(ctx, c, obj, "f"); err != nil {
		t.Fatal(err)
	}
	_ = c.Get(ctx, client.ObjectKeyFromObject(bc), obj)
	if len(obj.Finalizers) != 0 {
		t.Fatalf("finalizers %v", obj.Finalizers)
	}
}

func TestAnnotationsChangedExcept(t *testing.T) {
	p := AnnotationsChangedExcept("op/attempt")
	with := func(a map[string]string) *v1alpha1.BrowserContext {
		return &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Annotations: a}}
	}
	cases := []struct {
		name     string
		old, new map[string]string
		want     bool
	}{
		{"the operator's own key", nil, map[string]string{"op/attempt": "x"}, false},
		{"a person's key", nil, map[string]string{"skip-release": "true"}, true},
		{"nothing", map[string]string{"a": "1"}, map[string]string{"a": "1"}, false},
	}
	for _, tc := range cases {
		if got := p.Update(event.UpdateEvent{ObjectOld: with(tc.old), ObjectNew: with(tc.new)}); got != tc.want {
			t.Errorf("%s: %t, want %t", tc.name, got, tc.want)
		}
	}
}

func isTrue(conds []metav1.Condition, typ string) bool {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}
