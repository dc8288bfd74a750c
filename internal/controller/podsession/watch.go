package podsession

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// SetupWithManager registers the reconciler and the index of BrowserSessions by owning Pod.
// Reconciles are triggered by a Pod's creation and deletion and by the changes of a Pod that
// matter to its session (phase, deletion, template label, session annotation), by a Pod's
// BrowserSession being deleted or changed by someone else, and by a template being created
// (for the Pods that waited for it).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.BrowserSession{}, ownerPodField, ownerPodIndex); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Pod{}, builder.WithPredicates(podChanged)).
		// Creates pass too: a manager that starts sees every BrowserSession as created, and a
		// Pod deleted while no manager ran is then found gone and its session deleted; nothing
		// else would bring that Pod back (it is not in the cache any more).
		Watches(&v1alpha1.BrowserSession{}, handler.EnqueueRequestsFromMapFunc(podOfSession),
			builder.WithPredicates(sessionChanged)).
		Watches(&v1alpha1.BrowserSessionTemplate{}, handler.EnqueueRequestsFromMapFunc(r.podsOfTemplate),
			builder.WithPredicates(onlyCreates)).
		WithOptions(reconcile.ControllerOptions(r.MaxConcurrentReconciles)).
		Named("podsession").
		Complete(r)
}

// ownerPodField indexes the BrowserSessions made for Pods by the name of their Pod.
const ownerPodField = "podsession.ownerPod"

// ownerPodIndex is the index function of ownerPodField.
func ownerPodIndex(obj client.Object) []string {
	if name := ownerPod(obj); name != "" {
		return []string{name}
	}
	return nil
}

// ownerPod is the name of the Pod obj was made for: its Pod owner, when it carries the pod-uid
// label the operator sets (a BrowserSession someone else made and gave a Pod owner is not the
// operator's to delete).
func ownerPod(obj client.Object) string {
	if _, ok := obj.GetLabels()[v1alpha1.LabelPodUID]; !ok {
		return ""
	}
	for _, ref := range obj.GetOwnerReferences() {
		if ref.APIVersion == "v1" && ref.Kind == "Pod" {
			return ref.Name
		}
	}
	return ""
}

// podOfSession maps a BrowserSession to the Pod it was made for.
func podOfSession(_ context.Context, obj client.Object) []ctrl.Request {
	if name := ownerPod(obj); name != "" {
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
	}
	return nil
}

// podsOfTemplate maps a template to the Pods, in the cache, that name it.
func (r *Reconciler) podsOfTemplate(ctx context.Context, obj client.Object) []ctrl.Request {
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(obj.GetNamespace()),
		client.MatchingLabels{v1alpha1.LabelSessionTemplate: obj.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "Could not list the Pods of a BrowserSessionTemplate", "template", obj.GetName())
		return nil
	}
	requests := make([]ctrl.Request, 0, len(pods.Items))
	for i := range pods.Items {
		requests = append(requests, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&pods.Items[i])})
	}
	return requests
}

// podChanged passes a Pod's updates that matter to its session, and resyncs (the same
// resourceVersion), which look again at every Pod now and then. Container statuses, the most
// frequent updates, do not.
var podChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	older, newer := e.ObjectOld.(*corev1.Pod), e.ObjectNew.(*corev1.Pod)
	return older.ResourceVersion == newer.ResourceVersion ||
		older.Status.Phase != newer.Status.Phase ||
		older.DeletionTimestamp.IsZero() != newer.DeletionTimestamp.IsZero() ||
		older.Labels[v1alpha1.LabelSessionTemplate] != newer.Labels[v1alpha1.LabelSessionTemplate] ||
		older.Annotations[v1alpha1.AnnotationSessionSecret] != newer.Annotations[v1alpha1.AnnotationSessionSecret]
}}

// sessionChanged passes a BrowserSession's updates that concern its Pod: its deletion starting,
// or its labels or owners changed. Status changes, the most frequent updates, do not.
var sessionChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero() ||
		ownerPod(e.ObjectOld) != ownerPod(e.ObjectNew) ||
		e.ObjectOld.GetLabels()[v1alpha1.LabelPodUID] != e.ObjectNew.GetLabels()[v1alpha1.LabelPodUID]
}}

// onlyCreates passes create events only.
var onlyCreates = predicate.Funcs{
	UpdateFunc:  func(event.UpdateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}
