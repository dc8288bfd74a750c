package browsersession

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// ensureSession is the first step: it makes p.sess the session bs has. Without one recorded, it
// is created once (create.go); with one, it is read from Browserbase (observe.go) and replaced
// when spec.renewal says its successor is due (renewal_successor.go), or else swept for leaks
// (sweep.go). The session goes into status, in memory.
func (r *Reconciler) ensureSession(ctx context.Context, p *pass) error {
	sess, err := r.sessionOf(ctx, p)
	if err != nil {
		return err
	}
	if sess.ConnectURL == "" {
		r.fillPending(p.bs, sess)
	}
	if p.predecessor == nil && p.bs.Status.PreviousID != "" && sess.Status == browserbase.StatusPending {
		// A successor still starting: the predecessor serves if it is still live.
		p.predecessor = r.observePredecessor(ctx, p)
	}
	copySessionToStatus(p.bs, sess)
	r.recordRenewalTime(p.bs, sess)
	p.sess = sess
	r.follow(p)
	return nil
}

// follow keeps the feed and the queue in step with p's session: a live session is watched
// through the feed's list (an end wakes the resource), an ended one no more; a resource with a
// session is out of the queue unless a renewal put it back. A renewal's predecessor, still
// serving, is held too: the feed does not take it for a leak.
func (r *Reconciler) follow(p *pass) {
	name := types.NamespacedName{Namespace: p.bs.Namespace, Name: p.bs.Name}
	if p.live() {
		r.Feed.Track(p.apiKey, p.queue, p.sess.ID, name)
		r.leaveQueue(p.bs)
	} else {
		r.Feed.Untrack(p.apiKey, p.sess.ID)
	}
	if prev := p.bs.Status.PreviousID; prev != "" {
		r.Feed.Track(p.apiKey, p.queue, prev, name)
	}
}

// SweepSoon asks for a sweep of the resource uid at its next pass: the feed saw a session tagged
// with it that it does not hold.
func (r *Reconciler) SweepSoon(uid types.UID) {
	r.sweeps.soon(uid, r.Now())
}

// observePredecessor reads the session a renewal replaced, nil when it cannot be read.
func (r *Reconciler) observePredecessor(ctx context.Context, p *pass) *browserbase.Session {
	prev, err := r.Browserbase.GetSession(ctx, p.apiKey, p.bs.Status.PreviousID)
	if err != nil {
		return nil
	}
	return prev
}

// sessionOf returns bs's session: created, observed, or renewed.
func (r *Reconciler) sessionOf(ctx context.Context, p *pass) (*browserbase.Session, error) {
	bs := p.bs
	if bs.Status.ID == "" {
		return r.createOnce(ctx, p)
	}
	if _, err := p.secret.get(); err != nil {
		return nil, err
	}
	if err := reconcile.EnsureFinalizer(ctx, r.Client, bs, v1alpha1.Finalizer); err != nil {
		return nil, err
	}
	current, err := r.observeCurrent(ctx, bs, p.apiKey, bs.Status.ID)
	if err != nil {
		return nil, err
	}
	if r.renewalDue(bs, current) {
		return r.renewSession(ctx, p, current)
	}
	if unfinishedCreate(bs) {
		// spec.renewal was turned off while a successor's create was unfinished: what it made is
		// resolved, and nothing is made anew.
		return r.resolveAbandonedRenewal(ctx, p, current)
	}
	if !current.Status.Ended() {
		r.sweepLeaks(ctx, bs, p.apiKey)
	}
	return current, nil
}
