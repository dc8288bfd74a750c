package reconcile

import (
	"context"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/browserbase/session-operator/internal/operator"
)

// Kit is what every kind's reconciler embeds: where its events go and what time it is.
type Kit struct {
	// Recorder emits Kubernetes events (nil: none).
	Recorder events.EventRecorder
	// Clock tells the time (nil: the real one); tests pass a fake.
	Clock clock.PassiveClock
}

// Event records a Kubernetes event about obj. Notes never carry credentials.
func (k *Kit) Event(obj runtime.Object, eventType, reason, action, note string, args ...any) {
	if k.Recorder != nil {
		k.Recorder.Eventf(obj, nil, eventType, reason, action, note, args...)
	}
}

// Now is the time by the kit's clock.
func (k *Kit) Now() time.Time {
	if k.Clock == nil {
		return time.Now()
	}
	return k.Clock.Now()
}

// StatusObject is an Object whose status records the generation it was computed from.
type StatusObject interface {
	Object
	SetObservedGeneration(int64)
}

// StatusConflictHook is given a chance to write a pass's status another way when its patch met
// a conflict; what it returns replaces the patch's error.
type StatusConflictHook func(ctx context.Context, conflict error) error

// FinalizeStatus ends every pass: it turns the outcome into conditions, stamps
// observedGeneration, emits a Warning event when the resource becomes stalled or begins a wait
// worth one (once, not on every pass), and patches status if anything changed. The patch is
// computed against the status read at the start, so it holds only status, and carries the
// resourceVersion last seen: a status computed from a stale copy (a lagging cache) must not
// overwrite a newer one. A conflict goes to onConflict when given, else requeues, and the next
// pass recomputes the status.
func (k *Kit) FinalizeStatus(ctx context.Context, c client.Client, before, obj StatusObject,
	result ctrl.Result, err error, onConflict StatusConflictHook) (ctrl.Result, error) {
	result, err = ApplyOutcome(obj, result, err)
	obj.SetObservedGeneration(obj.GetGeneration())

	if cond := TransitionWarning(*before.GetConditions(), *obj.GetConditions()); cond != nil {
		k.Event(obj, corev1.EventTypeWarning, cond.Reason, "Reconcile", "%s", cond.Message)
	}
	// before's status under obj's metadata: the object as the API server has it, as far as the
	// pass knows (its metadata writes moved the resourceVersion).
	base := before.DeepCopyObject().(StatusObject)
	*base.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta) = *obj.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta)
	if equality.Semantic.DeepEqual(base, obj) {
		return result, err
	}
	patchErr := c.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), operator.FieldOwner)
	if apierrors.IsConflict(patchErr) && onConflict != nil {
		patchErr = onConflict(ctx, patchErr)
	}
	return FoldStatusPatchError(result, err, patchErr)
}

// EnsureFinalizer adds finalizer to obj, which the pass read, in a metadata patch with its
// resourceVersion as a precondition; nothing is written when it is there already.
func EnsureFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	if controllerutil.ContainsFinalizer(obj, finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, finalizer)
	return PatchMetadata(ctx, c, obj, base)
}

// RemoveFinalizer removes finalizer from obj the same way.
func RemoveFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	if !controllerutil.ContainsFinalizer(obj, finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, finalizer)
	return PatchMetadata(ctx, c, obj, base)
}

// AnnotationsChangedExcept passes updates that change an annotation other than the operator's
// own bookkeeping keys: a person asking for another attempt, or setting skip-release. The
// operator's writes of its own annotations must not trigger reconciles, or a refused create
// would trigger the next one.
func AnnotationsChangedExcept(own ...string) predicate.Predicate {
	user := func(a map[string]string) map[string]string {
		out := maps.Clone(a)
		for _, k := range own {
			delete(out, k)
		}
		return out
	}
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil {
				return false
			}
			return !maps.Equal(user(e.ObjectOld.GetAnnotations()), user(e.ObjectNew.GetAnnotations()))
		},
	}
}

// IgnoreCreates drops create events: for objects the operator creates itself, only changes made
// by others need a look.
var IgnoreCreates = predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}
