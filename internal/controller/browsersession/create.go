package browsersession

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// Browserbase has no idempotency key and picks session ids itself, so a create whose answer is
// lost (a crash, a timeout, a 5xx after the session was committed) leaves a billed session the
// operator does not know about, and a blind retry makes a duplicate. The protocol here:
//
//  1. Before the call, a fresh create-attempt token and its time are written as annotations,
//     with the finalizer, in one write made with a resourceVersion precondition: a stale copy of
//     the resource (from a lagging cache, or a second manager) fails with a conflict instead of
//     creating.
//  2. Every session carries that token, and this resource's UID, in userMetadata (k8s.attempt,
//     k8s.uid).
//  3. When the call succeeds, the session id goes into status with the rest of the reconcile's
//     outcome, in the one status write every reconcile makes. The attempt annotations stay: a
//     session brought up costs three writes (intent, Secret, status), not five.
//  4. An attempt token without a session id in status therefore means "a session may exist"
//     (the status write was lost, the manager crashed after the create, or a backup was restored
//     without status): before creating again, the sessions carrying the token are listed (after
//     a grace period, as the list may lag). A live one whose credentials can still be read is
//     adopted, the rest released; none means the create did not happen, and it is made again
//     under a new token.
//  5. A renewal's create (renew.go) is the same, with the predecessor's id written beside the
//     token (AnnotationCreateRenews): while status.id still names the predecessor, the
//     successor's create is unfinished. The predecessor is never adopted nor released here.
//
// Unlike Crossplane's create-pending lock, this needs no person to unlock it.

// createOnce returns the session of p.bs: the one an earlier, unfinished attempt created, or a
// new one. The Secret's read is waited for before any session is adopted or created. When
// status.id names a session, the new one is its successor.
func (r *Reconciler) createOnce(ctx context.Context, p *pass) (*browserbase.Session, error) {
	bs, apiKey := p.bs, p.apiKey
	if unfinishedCreate(bs) {
		if _, err := p.secret.get(); err != nil {
			return nil, err
		}
		sess, err := r.resolveUnfinishedCreate(ctx, bs, apiKey)
		if err != nil || sess != nil {
			return sess, err
		}
	}
	token, err := newAttemptToken()
	if err != nil {
		return nil, err
	}
	req, err := r.createRequest(ctx, bs, p.project, token)
	if err != nil {
		return nil, err
	}
	if err := r.admit(p); err != nil {
		return nil, err
	}
	// The Secret read and this write run at once: both must be done before the create call.
	markErr := r.markCreateAttempt(ctx, bs, token)
	if _, err := p.secret.get(); err != nil {
		r.giveBackSlot(p)
		return nil, err
	}
	if markErr != nil {
		r.giveBackSlot(p)
		return nil, markErr
	}

	p.createCalled = true
	sess, err := r.Browserbase.CreateSession(ctx, apiKey, req)
	if err != nil {
		r.createRefused(p, err)
		return nil, r.createFailed(ctx, bs, err)
	}
	log.FromContext(ctx).Info("Created Browserbase session", "sessionID", sess.ID, "region", sess.Region)
	r.Event(bs, corev1.EventTypeNormal, "SessionCreated", "Create", "Created Browserbase session %s", sess.ID)
	bs.Status.ID = sess.ID
	r.keepPending(bs, sess)
	return sess, nil
}

// createFailed records what a failed create means for the attempt (nothing was made after a
// refusal; after anything else the grace period counts from now) and returns its outcome.
func (r *Reconciler) createFailed(ctx context.Context, bs *v1alpha1.BrowserSession, err error) error {
	if browserbase.Refused(err) {
		// Browserbase refused: nothing was created, nothing to look for.
		if clearErr := r.clearCreateAttempt(ctx, bs); clearErr != nil {
			log.FromContext(ctx).Error(clearErr, "Could not clear the create-attempt annotations")
		}
	} else if stampErr := r.restampCreateAttempt(ctx, bs); stampErr != nil {
		log.FromContext(ctx).Error(stampErr, "Could not move the create attempt's time to the end of the call")
	}
	return classify(bs, "create the Browserbase session", err)
}

// createAttempt is the token of bs's last create attempt, "" if none is recorded.
func createAttempt(bs *v1alpha1.BrowserSession) string {
	return bs.Annotations[v1alpha1.AnnotationCreateAttempt]
}

// unfinishedCreate reports whether bs's last create attempt may have made a session that is not
// recorded: a first create, with no session id in status, or a renewal's, while status.id still
// names the predecessor it was to replace.
func unfinishedCreate(bs *v1alpha1.BrowserSession) bool {
	if createAttempt(bs) == "" {
		return false
	}
	return bs.Status.ID == "" || bs.Annotations[v1alpha1.AnnotationCreateRenews] == bs.Status.ID
}

// createAttemptedAt is the time of bs's last create attempt, if one is recorded and readable.
func createAttemptedAt(bs *v1alpha1.BrowserSession) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, bs.Annotations[v1alpha1.AnnotationCreateAttemptedAt])
	return t, err == nil
}

// markCreateAttempt records that a create is about to be made under token, and adds the
// finalizer in the same write, so that no session can exist without the finalizer, nor without
// the token that finds it again. The write carries the resourceVersion this reconcile read, so
// it fails if the copy is stale.
func (r *Reconciler) markCreateAttempt(ctx context.Context, bs *v1alpha1.BrowserSession, token string) error {
	base := bs.DeepCopy()
	controllerutil.AddFinalizer(bs, v1alpha1.Finalizer)
	if bs.Annotations == nil {
		bs.Annotations = map[string]string{}
	}
	bs.Annotations[v1alpha1.AnnotationCreateAttempt] = token
	bs.Annotations[v1alpha1.AnnotationCreateAttemptedAt] = r.Now().UTC().Format(time.RFC3339)
	if bs.Status.ID != "" {
		bs.Annotations[v1alpha1.AnnotationCreateRenews] = bs.Status.ID
	} else {
		delete(bs.Annotations, v1alpha1.AnnotationCreateRenews)
	}
	return reconcile.PatchMetadata(ctx, r.Client, bs, base)
}

// newAttemptToken returns 64 random bits in hex: enough that two attempts never share one, and
// short, since it takes room in userMetadata's 512 characters.
func newAttemptToken() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a create-attempt token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// clearCreateAttempt removes the create-attempt annotations after a create Browserbase refused.
// The write carries the resourceVersion of the attempt's own write: if anyone (another manager
// with a newer token) wrote the resource since, the annotations are theirs and stay.
func (r *Reconciler) clearCreateAttempt(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	return r.patchAttempt(ctx, bs, func(a map[string]string) {
		delete(a, v1alpha1.AnnotationCreateAttempt)
		delete(a, v1alpha1.AnnotationCreateAttemptedAt)
		delete(a, v1alpha1.AnnotationCreateRenews)
	})
}

// restampCreateAttempt moves the attempt's time to now, the end of a create whose outcome is
// unknown: the grace period before the session list is trusted then counts from when
// Browserbase last had the request, not from before the call waited for a slot and ran up to
// its timeout. Like clearCreateAttempt, it leaves a newer attempt alone.
func (r *Reconciler) restampCreateAttempt(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	now := r.Now().UTC().Format(time.RFC3339)
	return r.patchAttempt(ctx, bs, func(a map[string]string) { a[v1alpha1.AnnotationCreateAttemptedAt] = now })
}

// patchAttempt changes the create-attempt annotations with a resourceVersion precondition,
// retrying only failures that are not conflicts.
func (r *Reconciler) patchAttempt(ctx context.Context, bs *v1alpha1.BrowserSession, change func(map[string]string)) error {
	retriable := func(err error) bool { return !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) }
	return retry.OnError(retry.DefaultBackoff, retriable, func() error {
		base := bs.DeepCopy()
		if bs.Annotations == nil {
			bs.Annotations = map[string]string{}
		}
		change(bs.Annotations)
		err := reconcile.PatchMetadata(ctx, r.Client, bs, base)
		if err != nil {
			bs.Annotations = base.Annotations
		}
		return err
	})
}

// resolveUnfinishedCreate finds out what an unfinished create left behind. It returns the
// session to adopt, or nil when there is none and a create may be made. Every other live session
// tagged with this resource (any attempt's token, or its UID) is released, except the sessions a
// renewal replaces (status.id and status.previousId), which keep serving until their release.
func (r *Reconciler) resolveUnfinishedCreate(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) (*browserbase.Session, error) {
	if wait := r.createGraceLeft(bs); wait > 0 {
		return nil, reconcile.Wait(v1alpha1.ReasonCreateOutcomeUnknown, wait,
			"A create may have succeeded without its answer arriving; waiting for Browserbase's session list to show it")
	}
	live, err := r.taggedSessions(ctx, bs, apiKey)
	if err != nil {
		return nil, err
	}
	var keep *browserbase.Session
	stored := r.storedCredentials(ctx, bs)
	for _, s := range live {
		if s.ID == bs.Status.ID || s.ID == bs.Status.PreviousID {
			continue
		}
		if keep == nil {
			full, err := r.Browserbase.GetSession(ctx, apiKey, s.ID)
			if err != nil && !browserbase.IsNotFound(err) {
				return nil, fmt.Errorf("reading session %s, which an unfinished create may have made: %w", s.ID, err)
			}
			// Workloads cannot use a session without its connect URL and signing key: from the
			// get, or else from the Secret, when it was written for this very session.
			if err == nil && !full.Status.Ended() && (full.ConnectURL != "" && full.SigningKey != "" || r.fillPending(bs, full) || stored() == s.ID) {
				keep = full
				continue
			}
		}
		why := "left by an unfinished create and not usable: its connect details came only with the create answer that was lost"
		if keep != nil {
			why = fmt.Sprintf("left by an unfinished create and not needed: session %s is adopted", keep.ID)
		}
		if err := r.releaseSession(ctx, bs, apiKey, s.ID, releasedAsLeftover("Sweep", why)); err != nil {
			return nil, err
		}
	}
	if keep == nil {
		// A create follows. A session the unfinished one made may still show up later (Browserbase
		// committed it late, or its list lags): look for it again soon.
		r.sweeps.soon(bs.UID, r.Now().Add(2*r.CreateGracePeriod+time.Second))
		return nil, nil
	}
	log.FromContext(ctx).Info("Adopted the session of an unfinished create", "sessionID", keep.ID)
	metrics.SessionsAdopted.Inc()
	r.Event(bs, corev1.EventTypeNormal, "SessionAdopted", "Create", "Found Browserbase session %s, made by an earlier attempt, and adopted it", keep.ID)
	bs.Status.ID = keep.ID
	return keep, nil
}

// createGraceLeft is how long to wait before trusting the session list about an unfinished
// create: Browserbase does not say how soon a new session shows in it.
func (r *Reconciler) createGraceLeft(bs *v1alpha1.BrowserSession) time.Duration {
	started, ok := createAttemptedAt(bs)
	if !ok {
		return 0 // unreadable: treat as old
	}
	return started.Add(r.CreateGracePeriod).Sub(r.Now())
}
