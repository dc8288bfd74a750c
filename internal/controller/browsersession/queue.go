package browsersession

import (
	"context"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// A CreateQueue admits creates per project in order of arrival, within the project's limits
// (internal/queue). Nil admits every create at once.
type CreateQueue interface {
	SetLimits(k queue.Key, l queue.Limits)
	Admit(k queue.Key, r queue.Request) queue.Decision
	Throttled(k queue.Key, retryAfter time.Duration, concurrency bool)
	Failed(k queue.Key, uid types.UID)
	Requeue(k queue.Key, uid types.UID)
	Forget(uid types.UID)
}

// admit asks the project's queue for p's create. A create not admitted yet waits: its place and
// the expected time go to status (status.queuePosition, status.queueEstimate; absolute, so
// status is not rewritten as time passes), and the queue wakes it when its turn comes. A renewal
// keeps its predecessor Ready while it waits.
func (r *Reconciler) admit(p *pass) error {
	bs := p.bs
	if r.Queue == nil {
		return nil
	}
	// Before each admission: a queue idle long enough is dropped with its limits. A key used
	// directly has no project object to set them: --creates-per-minute does.
	limits := queue.Limits{CreatesPerMinute: r.CreatesPerMinute}
	if p.project != nil {
		limits = p.project.Limits
	}
	r.Queue.SetLimits(p.queue, limits)
	d := r.Queue.Admit(p.queue, r.queueRequest(bs))
	if d.Admitted {
		clearQueueStatus(bs)
		return nil
	}
	bs.Status.QueuePosition = int32(d.Position)
	bs.Status.QueueEstimate = nil
	if !d.At.IsZero() {
		// Whole seconds, so that an estimate that does not move does not rewrite status.
		at := metav1.NewTime(d.At.Truncate(time.Second))
		bs.Status.QueueEstimate = &at
	}
	return &reconcile.WaitError{Reason: d.Reason, Message: d.Message, After: d.RetryAfter, KeepReady: renewing(bs)}
}

// queueRequest is bs's place in the queue: first sessions arrive when their resource was
// created (the first declared is the first served); a renewal when it became due, with its
// predecessor's expiry as the deadline before which it must be served.
func (r *Reconciler) queueRequest(bs *v1alpha1.BrowserSession) queue.Request {
	req := queue.Request{UID: bs.UID, Name: types.NamespacedName{Namespace: bs.Namespace, Name: bs.Name}, Arrival: bs.CreationTimestamp.Time}
	if bs.Status.ID == "" {
		// At the first pass, before any write, the resourceVersion is the one the resource was
		// created with: the order within a second of creations (the queue keeps the first).
		req.Order, _ = strconv.ParseUint(bs.ResourceVersion, 10, 64)
		return req
	}
	req.Renewal = true
	switch {
	case bs.Status.RenewalTime != nil:
		req.Arrival = bs.Status.RenewalTime.Time
	case bs.Status.EndedAt != nil:
		req.Arrival = bs.Status.EndedAt.Time
	default:
		req.Arrival = r.Now()
	}
	if bs.Status.ExpiresAt != nil && !browserbase.SessionStatus(bs.Status.SessionStatus).Ended() {
		req.Deadline = bs.Status.ExpiresAt.Time
	}
	return req
}

// renewing reports whether bs's waiting create makes the successor of a session that still serves.
func renewing(bs *v1alpha1.BrowserSession) bool {
	return bs.Status.ID != "" && !browserbase.SessionStatus(bs.Status.SessionStatus).Ended()
}

// clearQueueStatus removes the queue's place from status once the create is admitted or not needed.
func clearQueueStatus(bs *v1alpha1.BrowserSession) {
	bs.Status.QueuePosition, bs.Status.QueueEstimate = 0, nil
}

// createRefused tells the queue what a failed create means: a 429 closes the project's queue for
// its Retry-After (and teaches it the limit), a refusal frees the slot it took.
func (r *Reconciler) createRefused(p *pass, err error) {
	if r.Queue == nil {
		return
	}
	switch {
	case browserbase.IsRateLimited(err):
		// First: what the 429 teaches counts the creates admitted, this one among them. Then it
		// goes back to its place: it asks again once the queue opens.
		r.Queue.Throttled(p.queue, browserbase.RetryAfter(err), browserbase.IsConcurrencyLimit(err))
		r.Queue.Requeue(p.queue, p.bs.UID)
	case browserbase.Refused(err):
		r.Queue.Failed(p.queue, p.bs.UID)
	}
}

// giveBackSlot returns the slot an admitted create took when the create was not called after all
// (its attempt could not be marked): it did not count against the project's limits, and the
// resource keeps its place.
func (r *Reconciler) giveBackSlot(p *pass) {
	if r.Queue != nil {
		r.Queue.Requeue(p.queue, p.bs.UID)
	}
}

// leaveQueue takes bs out of the queue: it has its session, or needs none.
func (r *Reconciler) leaveQueue(bs *v1alpha1.BrowserSession) {
	clearQueueStatus(bs)
	if r.Queue != nil {
		r.Queue.Forget(bs.UID)
	}
}

// resolver is r.Projects, or for tests that set only Credentials, a resolver of keys alone.
func (r *Reconciler) resolver() *project.Resolver {
	if r.Projects != nil {
		return r.Projects
	}
	return &project.Resolver{Credentials: r.Credentials}
}

// account resolves bs's key, queue and project.
func (r *Reconciler) account(ctx context.Context, bs *v1alpha1.BrowserSession) (project.Account, error) {
	return r.resolver().Resolve(ctx, bs.Namespace, bs.Spec.ProjectRef, bs.Spec.APIKeySecretRef, bs.Status.ID != "" || unfinishedCreate(bs))
}
