package podsession

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// Event reasons on a Pod about its BrowserSession.
const (
	ReasonSessionCreated     = "BrowserSessionCreated"
	ReasonSessionDeleted     = "BrowserSessionDeleted"
	ReasonTemplateNotFound   = "SessionTemplateNotFound"
	ReasonSecretNotAnnotated = "SessionSecretNotAnnotated"
	ReasonSessionNameTaken   = "SessionNameTaken"
	ReasonSessionInvalid     = "SessionInvalid"
	ReasonSecretLeftOver     = "SessionSecretLeftOver"
)

// sessionsOf lists, from the cache, the BrowserSessions made for a Pod of this name, whichever
// Pod of that name they were made for.
func (r *Reconciler) sessionsOf(ctx context.Context, pod types.NamespacedName) ([]v1alpha1.BrowserSession, error) {
	list := &v1alpha1.BrowserSessionList{}
	if err := r.List(ctx, list, client.InNamespace(pod.Namespace), client.MatchingFields{ownerPodField: pod.Name}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// serves says whether bs is the session of pod while it runs: made for this Pod (not an earlier
// one of the same name) under the name its annotation gives.
func serves(bs *v1alpha1.BrowserSession, pod *corev1.Pod) bool {
	return running(pod) && bs.Labels[v1alpha1.LabelPodUID] == string(pod.UID) &&
		bs.Name == pod.Annotations[v1alpha1.AnnotationSessionSecret]
}

// deleteStale deletes the sessions that serve no running Pod: the BrowserSession controller then
// releases their Browserbase sessions. Each delete carries the UID as a precondition, so that a
// new BrowserSession made under the same name meanwhile is not the one deleted.
func (r *Reconciler) deleteStale(ctx context.Context, key types.NamespacedName, pod *corev1.Pod, sessions []v1alpha1.BrowserSession) error {
	for i := range sessions {
		bs := &sessions[i]
		if serves(bs, pod) || !bs.DeletionTimestamp.IsZero() {
			continue
		}
		why := staleReason(bs, pod)
		err := r.Delete(ctx, bs, client.Preconditions{UID: &bs.UID})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			continue // gone already, or another object now holds the name
		}
		if err != nil {
			return fmt.Errorf("delete BrowserSession %s of Pod %s: %w", bs.Name, key.Name, err)
		}
		log.FromContext(ctx).Info("Deleted the BrowserSession of a Pod", "browserSession", bs.Name, "reason", why)
		if pod != nil {
			r.Event(pod, corev1.EventTypeNormal, ReasonSessionDeleted, "Delete",
				"Deleted BrowserSession %s, which releases its Browserbase session: %s", bs.Name, why)
		}
	}
	return nil
}

// staleReason says why bs no longer serves pod, for the log and the Pod's event.
func staleReason(bs *v1alpha1.BrowserSession, pod *corev1.Pod) string {
	switch {
	case pod == nil:
		return "the Pod is gone"
	case !pod.DeletionTimestamp.IsZero():
		return "the Pod is being deleted"
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return "the Pod has " + string(pod.Status.Phase)
	case bs.Labels[v1alpha1.LabelPodUID] != string(pod.UID):
		return "it was made for an earlier Pod of the same name"
	default:
		return "the Pod now names another session in " + v1alpha1.AnnotationSessionSecret
	}
}
