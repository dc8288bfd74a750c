package browsersession

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// defaultOverlap is how long a predecessor keeps running after its successor is in the Secret,
// when spec.renewal.overlap is not set: longer than the kubelet's sync of Secret volumes (its
// syncFrequency, a minute by default, plus the time its Secret cache takes to notice), so that a
// workload reading the Secret as a file has the successor's URL before the predecessor goes.
const defaultOverlap = 2 * time.Minute

// markRotated is the step that records when consumers got a successor (status.lastRotationTime):
// its credentials in the Secret and, when spec.renewal names restart targets, their rollout
// started. The predecessor's overlap counts from then, not from the successor's create.
func (r *Reconciler) markRotated(_ context.Context, p *pass) error {
	bs := p.bs
	if !p.secretWritten || bs.Status.Revision < 2 || bs.Status.LastRotationTime != nil {
		return nil
	}
	if bs.Spec.Renewal != nil && len(bs.Spec.Renewal.RestartTargets) > 0 {
		// Restarted, or refused and reported (restart.go): either way consumers have what they
		// will get. A target that failed for a reason worth retrying has not started its rollout.
		if done, _ := r.restarted.Get(bs.UID); p.restartFailed || done != bs.Status.Revision && done != -bs.Status.Revision {
			return nil
		}
	}
	now := metav1.NewTime(r.Now().UTC().Truncate(time.Second))
	bs.Status.LastRotationTime = &now
	return nil
}

// releasePredecessor is the step that releases the session a renewal replaced, once its overlap
// is over, and otherwise asks for the next pass when it ends. A failure is logged and tried
// again soon: the successor serves meanwhile, and a predecessor that expires needs no release.
func (r *Reconciler) releasePredecessor(ctx context.Context, p *pass) error {
	bs := p.bs
	prev := bs.Status.PreviousID
	if prev == "" {
		return nil
	}
	if bs.Status.LastRotationTime == nil {
		// Consumers do not have the successor yet (its Secret, or its restart targets' rollout,
		// is still to be written): the overlap has not started.
		p.wakeUp = reconcile.Jitter(max(r.PollInterval/4, time.Second))
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
	return bs.Status.LastRotationTime.Add(overlap).Sub(r.Now())
}
