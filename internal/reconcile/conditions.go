package reconcile

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// Object is a resource whose status carries kstatus conditions (Ready, Reconciling, Stalled).
type Object interface {
	client.Object
	GetConditions() *[]metav1.Condition
}

// MarkProgressing says the operator is working towards Ready and nothing needs a person.
func MarkProgressing(obj Object, reason, message string) {
	SetCondition(obj, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	SetCondition(obj, v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(obj.GetConditions(), v1alpha1.ConditionStalled)
}

// MarkReady says the resource is usable and nothing is pending.
func MarkReady(obj Object, reason, message string) {
	SetCondition(obj, v1alpha1.ConditionReady, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(obj.GetConditions(), v1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(obj.GetConditions(), v1alpha1.ConditionStalled)
}

// MarkStalled says the resource cannot make progress until a person changes something.
func MarkStalled(obj Object, reason, message string) {
	SetCondition(obj, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	SetCondition(obj, v1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(obj.GetConditions(), v1alpha1.ConditionReconciling)
}

// MarkDone says the resource has reached an end that is not a failure: not usable any more,
// and nothing to do, for the operator or a person.
func MarkDone(obj Object, reason, message string) {
	SetCondition(obj, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	meta.RemoveStatusCondition(obj.GetConditions(), v1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(obj.GetConditions(), v1alpha1.ConditionStalled)
}

// MarkStarted sets Ready Unknown and Reconciling True on a resource that has no Ready condition
// yet: the operator has seen it and started working on it.
func MarkStarted(obj Object) {
	if meta.FindStatusCondition(*obj.GetConditions(), v1alpha1.ConditionReady) != nil {
		return
	}
	SetCondition(obj, v1alpha1.ConditionReady, metav1.ConditionUnknown, v1alpha1.ReasonReconciling, "Reconciliation has started")
	SetCondition(obj, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonReconciling, "Reconciliation has started")
}

// SetCondition sets one condition, stamped with the resource's generation.
func SetCondition(obj Object, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(obj.GetConditions(), metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: obj.GetGeneration(),
	})
}
