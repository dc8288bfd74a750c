package browsersession

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
//
// Unlike Crossplane's create-pending lock, this needs no person to unlock it.

// createOnce returns the session of bs (the one an earlier, unfinished attempt created, or a
// new one) and its Secret, as ownedSecret reads it: ownedSecret is waited for before any
// session is adopted or created.
func (r *Reconciler) createOnce(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive,
	ownedSecret func() (*metav1.PartialObjectMetadata, error)) (*browserbase.Session, *metav1.PartialObjectMetadata, error) {
	if createAttempt(bs) != "" {
		secret, err := ownedSecret()
		if err != nil {
			return nil, nil, err
		}
		sess, err := r.resolveUnfinishedCreate(ctx, bs, apiKey)
		if err != nil || sess != nil {
			return sess, secret, err
		}
	}
	token, err := newAttemptToken()
	if err != nil {
		return nil, nil, err
	}
	req, err := r.createRequest(ctx, bs, token)
	if err != nil {
		return nil, nil, err
	}
	if wait := r.CreateGate.admit(apiKey); wait != nil {
		return nil, nil, wait
	}
	// The Secret read and this write run at once: both must be done before the create call.
	markErr := r.markCreateAttempt(ctx, bs, token)
	secret, err := ownedSecret()
	if err != nil {
		return nil, nil, err
	}
	if markErr != nil {
		return nil, nil, markErr
	}

	sess, err := r.Browserbase.CreateSession(ctx, apiKey, req)
	if err != nil {
		if createOutcomeKnown(err) {
			// Browserbase refused: nothing was created, nothing to look for.
			if clearErr := r.clearCreateAttempt(ctx, bs); clearErr != nil {
				log.FromContext(ctx).Error(clearErr, "Could not clear the create-attempt annotations")
			}
		}
		outcome := classify(bs, "create the Browserbase session", err)
		if limited, ok := errors.AsType[*reconcile.WaitError](outcome); ok {
			r.CreateGate.close(apiKey, limited)
		}
		return nil, nil, outcome
	}
	log.FromContext(ctx).Info("Created Browserbase session", "sessionID", sess.ID, "region", sess.Region)
	r.event(bs, corev1.EventTypeNormal, "SessionCreated", "Create", "Created Browserbase session %s", sess.ID)
	bs.Status.ID = sess.ID
	return sess, secret, nil
}

// createOutcomeKnown reports whether a failed create certainly created nothing: Browserbase
// answered with a refusal. A 5xx or no answer at all leaves the outcome unknown.
func createOutcomeKnown(err error) bool {
	code := browserbase.StatusCode(err)
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout
}

// createAttempt is the token of bs's last create attempt, "" if none is recorded.
func createAttempt(bs *v1alpha1.BrowserSession) string {
	return bs.Annotations[v1alpha1.AnnotationCreateAttempt]
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
	bs.Annotations[v1alpha1.AnnotationCreateAttemptedAt] = r.clock().Now().UTC().Format(time.RFC3339)
	return r.Patch(ctx, bs, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
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
func (r *Reconciler) clearCreateAttempt(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	return r.patchAnnotations(ctx, bs, func(a map[string]string) {
		delete(a, v1alpha1.AnnotationCreateAttempt)
		delete(a, v1alpha1.AnnotationCreateAttemptedAt)
	})
}

// patchAnnotations changes annotations with a merge patch, which touches nothing else and
// cannot conflict, retrying transient failures.
func (r *Reconciler) patchAnnotations(ctx context.Context, bs *v1alpha1.BrowserSession, change func(map[string]string)) error {
	return retry.OnError(retry.DefaultBackoff, func(err error) bool { return !apierrors.IsNotFound(err) }, func() error {
		base := bs.DeepCopy()
		if bs.Annotations == nil {
			bs.Annotations = map[string]string{}
		}
		change(bs.Annotations)
		return r.Patch(ctx, bs, client.MergeFrom(base))
	})
}

// resolveUnfinishedCreate finds out what an unfinished create left behind. It returns the
// session to adopt, or nil when there is none and a create may be made. Sessions carrying the
// attempt's token that cannot be adopted are released.
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
	for _, s := range live {
		if keep == nil {
			full, err := r.Browserbase.GetSession(ctx, apiKey, s.ID)
			if err != nil && !browserbase.IsNotFound(err) {
				return nil, fmt.Errorf("reading session %s, which an unfinished create may have made: %w", s.ID, err)
			}
			// Workloads cannot use a session without its connect URL and signing key.
			if err == nil && full.ConnectURL != "" && full.SigningKey != "" && !full.Status.Ended() {
				keep = full
				continue
			}
		}
		if _, err := r.Browserbase.ReleaseSession(ctx, apiKey, s.ID); err != nil && !browserbase.IsNotFound(err) {
			return nil, fmt.Errorf("releasing session %s, left by an unfinished create: %w", s.ID, err)
		}
		log.FromContext(ctx).Info("Released a session left by an unfinished create", "sessionID", s.ID)
		r.event(bs, corev1.EventTypeWarning, "SessionReleased", "Create",
			"Released Browserbase session %s, left by an unfinished create and not usable or not needed", s.ID)
	}
	if keep == nil {
		return nil, nil
	}
	log.FromContext(ctx).Info("Adopted the session of an unfinished create", "sessionID", keep.ID)
	metrics.SessionsAdopted.Inc()
	r.event(bs, corev1.EventTypeNormal, "SessionAdopted", "Create", "Found Browserbase session %s, made by an earlier attempt, and adopted it", keep.ID)
	bs.Status.ID = keep.ID
	return keep, nil
}

// taggedSessions lists the live sessions whose userMetadata carries the token of bs's last
// create attempt. Ended ones are history, not leaks.
func (r *Reconciler) taggedSessions(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) ([]browserbase.Session, error) {
	q, ok := browserbase.MetadataQuery(createAttempt(bs), v1alpha1.ReservedMetadataKey, "attempt")
	if !ok {
		return nil, reconcile.Stalled(v1alpha1.ReasonCreateOutcomeUnknown,
			"annotation %s holds %q, which cannot be searched for; a session the create attempt made may be running. "+
				"Check Browserbase for sessions tagged with this resource, then remove the annotation to create anew",
			v1alpha1.AnnotationCreateAttempt, createAttempt(bs))
	}
	all, err := r.Browserbase.ListSessions(ctx, apiKey, browserbase.ListOptions{Query: q})
	if err != nil {
		return nil, fmt.Errorf("listing the sessions of this resource, to find out whether an unfinished create made one: %w", err)
	}
	var live []browserbase.Session
	for _, s := range all {
		if !s.Status.Ended() {
			live = append(live, s)
		}
	}
	return live, nil
}

// createGraceLeft is how long to wait before trusting the session list about an unfinished
// create: Browserbase does not say how soon a new session shows in it.
func (r *Reconciler) createGraceLeft(bs *v1alpha1.BrowserSession) time.Duration {
	started, ok := createAttemptedAt(bs)
	if !ok {
		return 0 // unreadable: treat as old
	}
	return started.Add(r.CreateGracePeriod).Sub(r.clock().Now())
}
