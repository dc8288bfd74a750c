package browsersession

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
)

// Item: the overlap counts from the moment consumers can see the successor (its Secret write),
// not from its create: a Secret write that fails for longer than the overlap must not be followed
// by the predecessor's release in the pass that first writes the successor.
func TestOverlapCountsFromTheSecretWrite(t *testing.T) {
	f := newRenewalFixture(t, beforeExpiry(10*time.Minute, time.Minute))
	f.reconcile()
	f.clk.SetTime(testNow.Add(50 * time.Minute))
	good := f.r.Client
	f.r.Client = interceptor.NewClient(f.c, interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				return apierrors.NewServiceUnavailable("etcd")
			}
			return c.Patch(ctx, obj, p, opts...)
		},
	})
	_, _ = f.reconcileAny()
	if bs := f.get(); bs.Status.ID != "s2" || !ready(bs) {
		t.Fatalf("status.id %s Ready %t: the successor is recorded and the predecessor keeps the resource Ready", bs.Status.ID, ready(bs))
	}
	f.r.Client = good
	f.clk.Step(2 * time.Minute)
	before := len(f.bb.CallsTo(browserbasetest.ReleaseSession))
	res := f.reconcile()
	if got := string(f.secret().Data[SecretKeySessionID]); got != "s2" {
		t.Fatalf("Secret holds %s, want s2", got)
	}
	if released := ids(f.bb.CallsTo(browserbasetest.ReleaseSession))[before:]; slices.Contains(released, "s1") {
		t.Fatalf("s1 released in the pass that first wrote s2 into the Secret: no overlap")
	}
	if res.RequeueAfter > time.Minute+time.Second {
		t.Fatalf("next look in %s, want at the overlap's end", res.RequeueAfter)
	}
	f.clk.Step(res.RequeueAfter)
	f.reconcile()
	if !slices.Contains(ids(f.bb.CallsTo(browserbasetest.ReleaseSession)), "s1") {
		t.Fatal("s1 not released after the overlap")
	}
}

// The default overlap covers the kubelet's sync of Secret volumes (a minute, plus its cache).
func TestDefaultOverlapCoversTheKubeletSync(t *testing.T) {
	if defaultOverlap <= time.Minute {
		t.Fatalf("default overlap %s: a volume consumer may still hold the old URL when the predecessor goes", defaultOverlap)
	}
}
