package browsersession

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// A pass is one reconcile of a live BrowserSession: what its steps share, in the way of Flux's
// source-controller, whose reconcile runs a list of functions over one object.
type pass struct {
	// bs is the resource; its status is filled in by the steps and written once at the end.
	bs *v1alpha1.BrowserSession
	// apiKey is the Browserbase API key bs uses.
	apiKey browserbase.Sensitive
	// queue is the create queue bs's creates wait in: its project's, or its key's.
	queue queue.Key
	// project is the project object bs uses, nil for a key used directly.
	project *project.Entry
	// secret is the credentials Secret's metadata, read beside the pass's first writes.
	secret ownedSecret
	// sess is the session bs has after ensureSession: the recorded one as Browserbase reports
	// it, its successor, or a new one.
	sess *browserbase.Session
	// predecessor is the session a renewal in this pass replaced, while it still serves.
	predecessor *browserbase.Session
	// secretWritten says that the Secret holds p.sess's credentials.
	secretWritten bool
	// restartFailed says that a restart target could not be patched for a reason worth
	// retrying: its rollout has not started.
	restartFailed bool
	// createCalled says that this pass called Browserbase's create (a failure is then a try).
	createCalled bool
	// wakeUp, when set, is the latest the next pass may come (a predecessor's overlap ending).
	wakeUp time.Duration
	// before is the status as stored: what the status write is computed against.
	before *v1alpha1.BrowserSession

	// done ends the pass after the current step, with result.
	done   bool
	result ctrl.Result
}

// A step is one named part of a pass. It returns the error that decides the requeue, or sets
// p.done to end the pass early with p.result.
type step func(ctx context.Context, p *pass) error

// finish ends the pass after the current step with result.
func (p *pass) finish(result ctrl.Result) {
	p.done, p.result = true, result
}

// live reports whether the pass's session still runs (or starts): its Secret is worth writing.
func (p *pass) live() bool {
	return p.sess != nil && !p.sess.Status.Ended()
}

// successorStarting reports whether the pass's session is a successor that Browserbase has not
// started yet while its predecessor still serves: the Secret keeps the predecessor's credentials
// until the successor runs.
func (p *pass) successorStarting() bool {
	return p.sess != nil && p.sess.Status == browserbase.StatusPending && p.bs.Status.PreviousID != "" &&
		p.bs.Status.LastRotationTime == nil && p.predecessorServing()
}

// predecessorServing reports whether a renewal's predecessor still serves, as far as the pass knows.
func (p *pass) predecessorServing() bool {
	return p.predecessor != nil && !p.predecessor.Status.Ended()
}

// startPass begins a pass over bs: an ended session without renewal is final and stalls without
// a call; otherwise the API key, project and queue are resolved and the Secret's read is started.
func (r *Reconciler) startPass(ctx context.Context, bs, before *v1alpha1.BrowserSession) (*pass, error) {
	reconcile.MarkStarted(bs)
	if !replacesEndedSessions(bs) && !unfinishedCreate(bs) {
		if err := sessionEnded(bs); err != nil {
			return nil, err
		}
	}
	acct, err := r.account(ctx, bs)
	if err != nil {
		return nil, err
	}
	// Read once per pass, and known before any create: a taken Secret name is refused before
	// paying for a session whose credentials would have nowhere to go.
	return &pass{bs: bs, before: before, apiKey: acct.Key, queue: acct.Queue, project: acct.Project,
		secret: r.startOwnedSecretRead(ctx, bs)}, nil
}

// An ownedSecret is the metadata of the Secret that holds a resource's credentials, as one read
// found it: nil when there is no such Secret yet, or a StallError when the Secret is someone
// else's. The read runs while the pass goes on; get waits for it, and answers the same after.
type ownedSecret struct {
	get func() (*metav1.PartialObjectMetadata, error)
}

// newOwnedSecret wraps read, which waits for the read's answer, so that it is waited for once.
func newOwnedSecret(read func() (*metav1.PartialObjectMetadata, error)) ownedSecret {
	return ownedSecret{get: sync.OnceValues(read)}
}
