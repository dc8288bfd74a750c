package browsercontext

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// idDigest is what status.idDigest records of id (operator.ContextIDDigest).
func idDigest(id string) string {
	return operator.ContextIDDigest(id)
}

// matchesRecord tells whether id is the id bc's status records, or bc records none yet (a
// context not created yet, or one made by an operator that did not record it).
func matchesRecord(bc *v1alpha1.BrowserContext, id string) bool {
	return bc.Status.IDDigest == "" || idDigest(id) == bc.Status.IDDigest
}

// contextID is the id of bc's context: the one in its Secret (nil: none), checked against
// status.idDigest, else one created but not in the Secret yet; "" when a context is to be
// created. A Secret that lost the recorded id, or holds another, stalls the resource, unless the
// forget-context annotation names the recorded context: it is then forgotten, and the Secret's
// id taken or a new context created.
func (r *Reconciler) contextID(ctx context.Context, bc *v1alpha1.BrowserContext, secret *corev1.Secret) (string, error) {
	id := contextIDOf(secret)
	if id == "" {
		id = r.pendingID(bc)
	}
	if bc.Status.IDDigest == "" || (id != "" && matchesRecord(bc, id)) {
		return id, nil
	}
	if bc.Annotations[v1alpha1.AnnotationForgetContext] == bc.Status.IDDigest {
		r.forget(ctx, bc, id)
		return id, nil
	}
	forget := fmt.Sprintf("kubectl annotate browsercontext %s %s=%s", bc.Name, v1alpha1.AnnotationForgetContext, bc.Status.IDDigest)
	if id == "" {
		return "", &reconcile.StallError{
			Reason: v1alpha1.ReasonContextSecretLost,
			Message: fmt.Sprintf("Secret %q no longer holds the id of Browserbase context %s (the Secret was deleted, or its key %s "+
				"removed), and it was the only record of it, so no new, empty context is made in its place. To keep the context: "+
				"re-create the Secret with its id under key %s (checked against status.idDigest). To start over with a new, empty "+
				"context, leaving the old one in Browserbase: %s. The operator looks again every %s",
				SecretName(bc), bc.Status.RedactedID, SecretKeyContextID, SecretKeyContextID, forget, r.pollInterval()),
			Recheck: r.pollInterval(),
		}
	}
	return "", reconcile.Stalled(v1alpha1.ReasonContextIDMismatch,
		"Secret %q holds Browserbase context id %s, not the id of the context this resource created (%s), so the operator "+
			"neither reports it Ready nor would delete it. Put that id back under key %s, or take the Secret's id instead, "+
			"leaving the old context in Browserbase: %s", SecretName(bc), redactID(id), bc.Status.RedactedID, SecretKeyContextID, forget)
}

// forget drops what status records of bc's context, as the forget-context annotation asks.
func (r *Reconciler) forget(ctx context.Context, bc *v1alpha1.BrowserContext, id string) {
	then := "Creating a new, empty context"
	if id != "" {
		then = fmt.Sprintf("Taking context %s from Secret %q", redactID(id), SecretName(bc))
	}
	log.FromContext(ctx).Info("Forgetting the Browserbase context (annotation "+v1alpha1.AnnotationForgetContext+"); it is left in Browserbase",
		"contextID", bc.Status.RedactedID)
	r.Event(bc, corev1.EventTypeWarning, "ContextForgotten", "Forget",
		"Forgot Browserbase context %s (annotation %s); it is left in Browserbase. %s", bc.Status.RedactedID, v1alpha1.AnnotationForgetContext, then)
	bc.Status.IDDigest, bc.Status.RedactedID, bc.Status.ProjectID, bc.Status.CreatedAt = "", "", "", nil
	r.polls.Forget(bc.UID)
}

// recordID records id, now in the Secret, in status (redacted, and its digest). Once that
// record was persisted (by an earlier pass), the create-attempt annotation is cleared: from then
// on a Secret without the id means the Secret was lost, not the create's answer, and no new
// context is made (see contextID).
func (r *Reconciler) recordID(ctx context.Context, bc *v1alpha1.BrowserContext, id string) error {
	persisted := bc.Status.IDDigest == idDigest(id)
	bc.Status.IDDigest, bc.Status.RedactedID = idDigest(id), redactID(id)
	if _, attempted := bc.Annotations[v1alpha1.AnnotationContextCreateAttemptedAt]; !persisted || !attempted {
		return nil
	}
	return r.clearCreateAttempt(ctx, bc)
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
