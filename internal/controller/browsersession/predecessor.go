package browsersession

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// defaultOverlap is how long a predecessor keeps running after its successor is in the Secret,
// when spec.renewal.overlap is not set.
const defaultOverlap = time.Minute

// releasePredecessor is the step that releases the session a renewal replaced, once its overlap
// is over, and otherwise asks for the next pass when it ends. A failure is logged and tried
// again soon: the successor serves meanwhile, and a predecessor that expires needs no release.
func (r *Reconciler) releasePredecessor(ctx context.Context, p *pass) error {
	bs := p.bs
	prev := bs.Status.PreviousID
	if prev == "" {
		return nil
	}
	if left := r.overlapLeft(bs); left > 0 {
		p.wakeUp = left
		return nil
	}
	if err := r.releaseSession(ctx, bs, p.apiKey, prev, releasedAsReplaced(bs.Status.ID, "Renew")); err != nil {
		log.FromContext(ctx).Error(err, "Could not release the session a renewal replaced; trying again", "sessionID", prev)
		p.wakeUp = reconcile.Jitter(max(r.PollInterval/4, time.Second))
		return nil
	}
	bs.Status.PreviousID = ""
	return nil
}

// overlapLeft is how long the predecessor still runs beside its successor.
func (r *Reconciler) overlapLeft(bs *v1alpha1.BrowserSession) time.Duration {
	overlap := defaultOverlap
	if rn := bs.Spec.Renewal; rn != nil && rn.Overlap != nil {
		overlap = rn.Overlap.Duration
	}
	if bs.Status.LastRotationTime == nil {
		return 0
	}
	return bs.Status.LastRotationTime.Add(overlap).Sub(r.Now())
}
