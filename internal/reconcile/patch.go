package reconcile

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PatchMetadata writes obj's changes since base (annotations, finalizers) with base's
// resourceVersion as a precondition, so that a stale copy fails with a conflict instead of
// overwriting. Only the metadata of the answer is taken into obj: the answer also carries the
// stored status, which would undo what the pass has found so far, before its one status patch.
// On an error nothing of the answer is taken: obj holds the caller's changes, unwritten.
func PatchMetadata(ctx context.Context, c client.Client, obj, base client.Object) error {
	patched := obj.DeepCopyObject().(client.Object)
	if err := c.Patch(ctx, patched, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	*obj.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta) = *patched.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta)
	return nil
}
