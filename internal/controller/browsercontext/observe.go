package browsercontext

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// afterCreate is how soon a new context is first read: not in the pass that made it, whose
// Secret write must not wait on another call.
const afterCreate = 2 * time.Second

// observeContext reads the context from Browserbase when its poll is due (contexts do not change
// on their own: the read fills projectId and createdAt, and notices a context deleted outside
// the operator), and reports Ready.
//
// A context Browserbase no longer knows stalls the resource rather than being made again: a new
// context is empty, so the BrowserSessions using it would silently lose their logged-in state,
// and a 404 also comes from an API key that now belongs to another project, where a new context
// would be made in the wrong place. The read is repeated at the poll interval, so a key put back
// heals by itself.
func (r *Reconciler) observeContext(ctx context.Context, bc *v1alpha1.BrowserContext, apiKey browserbase.Sensitive, id string, created bool) (ctrl.Result, error) {
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
		return ctrl.Result{}, &reconcile.StallError{
			Reason: v1alpha1.ReasonContextNotFound,
			Message: fmt.Sprintf("Browserbase has no context %s (the id in Secret %q) for the API key from %s: it was deleted outside "+
				"the operator, or the key now belongs to another project. Delete and re-create this BrowserContext to make a new, "+
				"empty context; the operator looks again every %s", redactID(id), SecretName(bc), reconcile.KeySource(bc.Spec.APIKeySecretRef), r.pollInterval()),
			Recheck: r.pollInterval(),
		}
	}
	if err != nil {
		return ctrl.Result{}, reconcile.ClassifyRead(reconcile.KeySource(bc.Spec.APIKeySecretRef), "read the Browserbase context",
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

// reportReady marks bc Ready and asks to be reconciled again after after.
func (r *Reconciler) reportReady(bc *v1alpha1.BrowserContext, after time.Duration) (ctrl.Result, error) {
	reconcile.MarkReady(bc, v1alpha1.ReasonContextReady, fmt.Sprintf("Browserbase context %s is ready; its id is in Secret %q, key %s",
		bc.Status.RedactedID, SecretName(bc), SecretKeyContextID))
	return ctrl.Result{RequeueAfter: after}, nil
}

// redactID hides all but the first four characters of a context id: enough to tell contexts
// apart, not to open one. Short ids are hidden entirely.
func redactID(id string) string {
	if len(id) <= 8 {
		return "…"
	}
	return id[:4] + "…"
}

// redactErr hides id in err's text (a Browserbase error names the path, /v1/contexts/{id}), and
// keeps err in the chain, so that its status code and Retry-After are still read.
func redactErr(err error, id string) error {
	if err == nil || id == "" {
		return err
	}
	return &redactedError{err: err, id: id}
}

type redactedError struct {
	err error
	id  string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.id, redactID(e.id))
}
func (e *redactedError) Unwrap() error { return e.err }
