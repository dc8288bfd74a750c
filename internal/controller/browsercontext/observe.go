package browsercontext

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// afterCreate is how soon a new context is first read: not in the pass that made it, whose
// Secret write must not wait on another call.
const afterCreate = 2 * time.Second

// observeContext reads the context from Browserbase when its poll is due, and returns when to
// look again (contexts do not change
// on their own: the read fills projectId and createdAt, and notices a context deleted outside
// the operator), and reports Ready.
//
// A context Browserbase no longer knows stalls the resource rather than being made again: a new
// context is empty, so the BrowserSessions using it would silently lose their logged-in state,
// and a 404 also comes from an API key that now belongs to another project, where a new context
// would be made in the wrong place. The read is repeated at the poll interval, so a key put back
// heals by itself.
func (r *Reconciler) observeContext(ctx context.Context, bc *v1alpha1.BrowserContext, apiKey browserbase.Sensitive, id string, created bool) (time.Duration, error) {
	now := r.Now()
	if created {
		r.polls.Set(bc.UID, now.Add(afterCreate))
		return r.reportReady(bc, afterCreate)
	}
	if next, ok := r.polls.Get(bc.UID); ok && now.Before(next) && bc.Status.CreatedAt != nil {
		return r.reportReady(bc, next.Sub(now))
	}

	c, err := r.Browserbase.GetContext(ctx, apiKey, id)
	if browserbase.IsNotFound(err) {
		r.polls.Forget(bc.UID)
		return 0, &reconcile.StallError{
			Reason: v1alpha1.ReasonContextNotFound,
			Message: fmt.Sprintf("Browserbase has no context %s (the id in Secret %q) for the API key from %s: it was deleted outside "+
				"the operator, or the key now belongs to another project. Delete and re-create this BrowserContext to make a new, "+
				"empty context; the operator looks again every %s", redactID(id), SecretName(bc), reconcile.KeySource(bc.Spec.APIKeySecretRef), r.pollInterval()),
			Recheck: r.pollInterval(),
		}
	}
	if err != nil {
		return 0, reconcile.ClassifyRead(reconcile.KeySource(bc.Spec.APIKeySecretRef), "read the Browserbase context",
			redactErr(err, id), r.pollInterval())
	}
	bc.Status.ProjectID = c.ProjectID
	if !c.CreatedAt.IsZero() {
		bc.Status.CreatedAt = &metav1.Time{Time: c.CreatedAt}
	}
	after := reconcile.Jitter(r.pollInterval())
	r.polls.Set(bc.UID, now.Add(after))
	return r.reportReady(bc, after)
}

// reportReady marks bc Ready, to be looked at again after after.
func (r *Reconciler) reportReady(bc *v1alpha1.BrowserContext, after time.Duration) (time.Duration, error) {
	reconcile.MarkReady(bc, v1alpha1.ReasonContextReady, fmt.Sprintf("Browserbase context %s is ready; its id is in Secret %q, key %s",
		bc.Status.RedactedID, SecretName(bc), SecretKeyContextID))
	return after, nil
}
