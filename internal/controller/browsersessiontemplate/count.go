package browsersessiontemplate

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// countSessions counts, from the cache, the BrowserSessions made from tpl by state: Ready,
// Stalled (failed: a person must act), or on their way (pending). Sessions being deleted are
// left out: their Pod has ended, and they serve it no more.
func (r *Reconciler) countSessions(ctx context.Context, tpl *v1alpha1.BrowserSessionTemplate) (v1alpha1.SessionCounts, error) {
	list := &v1alpha1.BrowserSessionList{}
	if err := r.List(ctx, list, client.InNamespace(tpl.Namespace),
		client.MatchingLabels{v1alpha1.LabelSessionTemplate: tpl.Name}); err != nil {
		return v1alpha1.SessionCounts{}, err
	}
	var counts v1alpha1.SessionCounts
	for i := range list.Items {
		switch state(&list.Items[i]) {
		case stateGone:
		case stateReady:
			counts.Ready++
		case stateFailed:
			counts.Failed++
		default:
			counts.Pending++
		}
	}
	return counts, nil
}

// sessionState is what a session counts as.
type sessionState int

const (
	statePending sessionState = iota
	stateReady
	stateFailed
	stateGone
)

// state is what bs counts as in its template's status.
func state(bs *v1alpha1.BrowserSession) sessionState {
	switch {
	case !bs.DeletionTimestamp.IsZero():
		return stateGone
	case meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady):
		return stateReady
	case meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionStalled):
		return stateFailed
	default:
		return statePending
	}
}
