package browsersession

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// A Browserbase session lives at most six hours and cannot be extended, so a resource that must
// keep a session (spec.renewal) gets a new one, its successor, and the same Secret gets the
// successor's credentials. The successor is made by createOnce, under its own attempt token,
// with the predecessor's id beside it: a crash at any point is resolved like any unfinished
// create, and the predecessor is never adopted as its own successor nor released by a sweep
// until its overlap is over. Status records both ids in the one write that makes the successor
// current (status.id, status.previousId), so the predecessor's release survives a restart.

const (
	// defaultOverlap is how long a predecessor keeps running after its successor is in the
	// Secret, when spec.renewal.overlap is not set.
	defaultOverlap = time.Minute
	// minUsefulLife is the least use a session must have before its renewal is due.
	minUsefulLife = 20 * time.Second
	// contextSyncDelay is how long after a session that persists into a context has ended
	// its successor waits, so that it loads the saved state (Browserbase's examples wait 5s).
	contextSyncDelay = 5 * time.Second
)

// renewalPolicy is bs's renewal policy, Never when none is set.
func renewalPolicy(bs *v1alpha1.BrowserSession) v1alpha1.RenewalPolicy {
	if bs.Spec.Renewal == nil || bs.Spec.Renewal.Policy == "" {
		return v1alpha1.RenewalNever
	}
	return bs.Spec.Renewal.Policy
}

// replacesEndedSessions reports whether bs's session is replaced when it ends.
func replacesEndedSessions(bs *v1alpha1.BrowserSession) bool {
	return renewalPolicy(bs) != v1alpha1.RenewalNever
}

// renewBefore is how long before sess expires its successor is due, and whether spec's own value
// had to give way to the default because it would leave sess no useful life.
func renewBefore(bs *v1alpha1.BrowserSession, sess *browserbase.Session) (before time.Duration, specTooLong bool) {
	lifetime := sess.ExpiresAt.Sub(sess.StartedAt)
	if sess.StartedAt.IsZero() || lifetime <= 0 {
		lifetime = maxSessionLifetime
		if t := bs.Spec.Timeout; t != nil {
			lifetime = time.Duration(*t) * time.Second
		}
	}
	fallback := lifetime / 3
	if r := bs.Spec.Renewal; r != nil && r.RenewBefore != nil {
		if r.RenewBefore.Duration+minUsefulLife <= lifetime {
			return r.RenewBefore.Duration, false
		}
		return fallback, true
	}
	return fallback, false
}

// renewalTime is when sess's successor is due under policy BeforeExpiry; zero for other policies.
func renewalTime(bs *v1alpha1.BrowserSession, sess *browserbase.Session) time.Time {
	if renewalPolicy(bs) != v1alpha1.RenewalBeforeExpiry || sess == nil || sess.ExpiresAt.IsZero() {
		return time.Time{}
	}
	before, _ := renewBefore(bs, sess)
	return sess.ExpiresAt.Add(-before)
}

// renewalDue reports whether bs's session must be replaced now: it ended (or Browserbase forgot
// it: sess is nil) and the policy replaces ended sessions, its renewal time has come, or a
// successor's create is unfinished.
func (r *Reconciler) renewalDue(bs *v1alpha1.BrowserSession, sess *browserbase.Session) bool {
	if !replacesEndedSessions(bs) {
		return false
	}
	if sess == nil || sess.Status.Ended() || unfinishedCreate(bs) {
		return true
	}
	due := renewalTime(bs, sess)
	return !due.IsZero() && !r.clock().Now().Before(due)
}

// renewSession makes the successor of bs's session, current (nil when it has ended or is
// unknown to Browserbase), and returns it with bs's Secret. While current is still usable, a
// failure to make the successor leaves it serving: Ready stays True, the failure is a Warning
// event, and the renewal is tried again.
func (r *Reconciler) renewSession(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive,
	current *browserbase.Session, ownedSecret func() (*metav1.PartialObjectMetadata, error)) (*browserbase.Session, *metav1.PartialObjectMetadata, error) {
	predecessor := bs.Status.ID
	serving := current != nil && !current.Status.Ended()
	if ctxRef := persistedContext(bs); ctxRef != "" {
		if serving {
			// One session at a time saves into a context: the predecessor goes first, so that
			// its state is there for the successor to load.
			return nil, nil, r.endForContext(ctx, bs, apiKey, current, ctxRef)
		}
		if wait := r.contextSyncLeft(bs, current); wait > 0 {
			return nil, nil, reconcile.Wait(v1alpha1.ReasonRenewing, wait,
				"Session %s has ended; its successor is created in %s, once its state is saved into context %s", predecessor, wait.Round(time.Second), ctxRef)
		}
	}

	if older := bs.Status.PreviousID; older != "" {
		// The last renewal's predecessor is still in its overlap (an overlap longer than a
		// session's life before its renewal): it goes now, so that at most two sessions run and
		// none drops out of status unreleased.
		if err := r.release(ctx, apiKey, older); err != nil {
			err = classify(bs, "release the session an earlier renewal replaced", err)
			if serving {
				return nil, nil, r.keepServing(bs, err)
			}
			return nil, nil, err
		}
		r.event(bs, corev1.EventTypeNormal, "SessionReleased", "Renew", "Released Browserbase session %s, which session %s replaced", older, predecessor)
		bs.Status.PreviousID = ""
	}

	successor, secret, err := r.createOnce(ctx, bs, apiKey, ownedSecret)
	if err != nil {
		if serving {
			return nil, nil, r.keepServing(bs, err)
		}
		return nil, nil, err
	}
	if successor.ID == predecessor {
		return successor, secret, nil
	}
	if serving {
		bs.Status.PreviousID = predecessor
	}
	bs.Status.Revision = max(bs.Status.Revision, 1) + 1
	now := metav1.NewTime(r.clock().Now().UTC().Truncate(time.Second))
	bs.Status.LastRotationTime = &now
	metrics.SessionsRenewed.Inc()
	log.FromContext(ctx).Info("Renewed the Browserbase session", "sessionID", successor.ID, "previousID", predecessor, "revision", bs.Status.Revision)
	r.event(bs, corev1.EventTypeNormal, "SessionRenewed", "Renew", "Browserbase session %s replaces session %s (revision %d)",
		successor.ID, predecessor, bs.Status.Revision)
	return successor, secret, nil
}

// keepServing turns a failure to make a successor into a wait that leaves Ready as it is: the
// predecessor still serves, and until it ends the renewal is tried again, at the wait Browserbase
// asked for, or else at the next poll. A problem only a person can fix is a Warning event now,
// and a Stalled condition if the predecessor ends before it is fixed.
func (r *Reconciler) keepServing(bs *v1alpha1.BrowserSession, err error) error {
	if wait, ok := errors.AsType[*reconcile.WaitError](err); ok {
		wait.KeepReady = true
		return wait
	}
	reason := v1alpha1.ReasonBrowserbaseUnavailable
	if stall, ok := errors.AsType[*reconcile.StallError](err); ok {
		reason = stall.Reason
	}
	r.event(bs, corev1.EventTypeWarning, "RenewalFailed", "Renew",
		"Could not create the successor of Browserbase session %s, which keeps serving: %v", bs.Status.ID, err)
	wait := reconcile.Wait(reason, reconcile.Jitter(max(r.PollInterval, time.Second)),
		"Could not create the successor of Browserbase session %s: %v", bs.Status.ID, err)
	wait.KeepReady = true
	return wait
}

// persistedContext is the context bs's sessions save their state into, "" when they do not.
func persistedContext(bs *v1alpha1.BrowserSession) string {
	s := bs.Spec.BrowserSettings
	if s == nil || s.Context == nil || s.Context.Persist == nil || !*s.Context.Persist {
		return ""
	}
	if s.Context.Name != "" {
		return s.Context.Name
	}
	return s.Context.ID
}

// endForContext releases current, a session that persists into a context, at its renewal time:
// its successor is made once it has ended and its state has had time to be saved. Ready turns
// False for that gap; the README's renewal section explains the trade-off.
func (r *Reconciler) endForContext(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, current *browserbase.Session, ctxRef string) error {
	if err := r.release(ctx, apiKey, current.ID); err != nil {
		return r.keepServing(bs, classify(bs, "release the session before its successor", err))
	}
	log.FromContext(ctx).Info("Released the session so that its state is saved before its successor loads it", "sessionID", current.ID)
	r.event(bs, corev1.EventTypeNormal, "SessionReleased", "Renew",
		"Released Browserbase session %s so that its state is saved into context %s before its successor loads it", current.ID, ctxRef)
	now := metav1.NewTime(r.clock().Now().UTC().Truncate(time.Second))
	bs.Status.SessionStatus = string(browserbase.StatusCompleted)
	bs.Status.EndedAt = &now
	return reconcile.Wait(v1alpha1.ReasonRenewing, contextSyncDelay,
		"Released session %s so that its state is saved into context %s; its successor follows", current.ID, ctxRef)
}

// contextSyncLeft is how long the successor of an ended session that persisted into a context
// still waits for the saved state.
func (r *Reconciler) contextSyncLeft(bs *v1alpha1.BrowserSession, current *browserbase.Session) time.Duration {
	var ended time.Time
	switch {
	case current != nil && current.EndedAt != nil:
		ended = *current.EndedAt
	case bs.Status.EndedAt != nil:
		ended = bs.Status.EndedAt.Time
	default:
		return 0
	}
	return ended.Add(contextSyncDelay).Sub(r.clock().Now())
}

// releasePredecessor releases the session a renewal replaced, once its overlap is over, and
// says how long until then otherwise. A failure is logged and tried again at the next pass: the
// successor serves meanwhile, and a predecessor that expires needs no release.
func (r *Reconciler) releasePredecessor(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) time.Duration {
	prev := bs.Status.PreviousID
	if prev == "" {
		return 0
	}
	if left := r.overlapLeft(bs); left > 0 {
		return left
	}
	if err := r.release(ctx, apiKey, prev); err != nil {
		log.FromContext(ctx).Error(err, "Could not release the session a renewal replaced; trying again", "sessionID", prev)
		return reconcile.Jitter(max(r.PollInterval/4, time.Second))
	}
	log.FromContext(ctx).Info("Released the session a renewal replaced", "sessionID", prev)
	r.event(bs, corev1.EventTypeNormal, "SessionReleased", "Renew", "Released Browserbase session %s, which session %s replaced", prev, bs.Status.ID)
	bs.Status.PreviousID = ""
	return 0
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
	return bs.Status.LastRotationTime.Add(overlap).Sub(r.clock().Now())
}

// restartTargets sets the session's revision on the pod templates of spec.renewal.restartTargets,
// so that workloads reading the Secret through environment variables restart onto a renewed
// session. A merge patch of one annotation: setting the value it already has changes nothing, so
// a target restarts once per revision, also across operator restarts. The first session needs
// no restart. A missing target is a Warning event, not an error: the session is fine.
func (r *Reconciler) restartTargets(ctx context.Context, bs *v1alpha1.BrowserSession) {
	if bs.Spec.Renewal == nil || bs.Status.Revision < 2 || r.restarted.has(bs.UID, bs.Status.Revision) {
		return
	}
	revision := fmt.Sprint(bs.Status.Revision)
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, v1alpha1.AnnotationSessionRevision, revision)
	failed := false
	for _, t := range bs.Spec.Renewal.RestartTargets {
		var obj client.Object
		switch t.Kind {
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		default:
			continue
		}
		obj.SetNamespace(bs.Namespace)
		obj.SetName(t.Name)
		err := r.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), FieldOwner)
		if apierrors.IsNotFound(err) {
			// Nothing to restart: a workload made later reads the Secret as it is.
			r.event(bs, corev1.EventTypeWarning, "RestartFailed", "Renew", "%s %s, a restart target, does not exist", t.Kind, t.Name)
			continue
		}
		if err != nil {
			failed = true
			log.FromContext(ctx).Error(err, "Could not restart a workload onto the renewed session", "kind", t.Kind, "name", t.Name)
			r.event(bs, corev1.EventTypeWarning, "RestartFailed", "Renew", "Could not restart %s %s onto session revision %s: %v", t.Kind, t.Name, revision, err)
		}
	}
	if !failed {
		r.restarted.set(bs.UID, bs.Status.Revision)
	}
}

// revisions remembers, per resource, the last revision its restart targets were set to, so that
// a pass with nothing new patches nothing.
type revisions struct {
	mu    sync.Mutex
	byUID map[types.UID]int64
}

func (m *revisions) has(uid types.UID, revision int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byUID[uid] == revision
}

func (m *revisions) set(uid types.UID, revision int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byUID == nil {
		m.byUID = map[types.UID]int64{}
	}
	m.byUID[uid] = revision
}

func (m *revisions) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byUID, uid)
}
