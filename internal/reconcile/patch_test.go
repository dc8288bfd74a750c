package reconcile

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/scheme"
)

// A metadata patch takes the answer's metadata and leaves the status the pass has computed, for
// its one status patch at the end; a stale copy fails.
func TestPatchMetadata(t *testing.T) {
	ctx := context.Background()
	stored := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs"}}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithStatusSubresource(&v1alpha1.BrowserSession{}).WithObjects(stored).Build()
	bs := &v1alpha1.BrowserSession{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(stored), bs); err != nil {
		t.Fatal(err)
	}
	stale := bs.DeepCopy()

	base := bs.DeepCopy()
	bs.Status.ID = "found-this-pass"
	bs.Annotations = map[string]string{"k": "v"}
	if err := PatchMetadata(ctx, c, bs, base); err != nil {
		t.Fatal(err)
	}
	if bs.Status.ID != "found-this-pass" {
		t.Errorf("status.id %q after the patch, want the pass's", bs.Status.ID)
	}
	if bs.ResourceVersion == base.ResourceVersion || bs.Annotations["k"] != "v" {
		t.Errorf("metadata %+v, want the answer's (a new resourceVersion, the annotation)", bs.ObjectMeta)
	}

	staleBase := stale.DeepCopy()
	stale.Annotations = map[string]string{"k": "other"}
	if err := PatchMetadata(ctx, c, stale, staleBase); err == nil {
		t.Error("a stale copy was written")
	}
}
