package browsercontext

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// createOnce creates bc's context and returns its id, which the caller writes into the Secret
// before anything else. Contexts carry no metadata and cannot be listed, so unlike a session, a
// context whose create answer was lost cannot be found again (see the package documentation):
// the create-attempt annotation written before the call only tells, afterwards, that this may
// have happened.
func (r *Reconciler) createOnce(ctx context.Context, bc *v1alpha1.BrowserContext, apiKey browserbase.Sensitive) (string, error) {
	if at, ok := bc.Annotations[v1alpha1.AnnotationContextCreateAttemptedAt]; ok {
		log.FromContext(ctx).Info("An earlier create of the Browserbase context had no recorded answer; the context it may have made "+
			"cannot be found again and is left in Browserbase. Creating another", "attemptedAt", at)
		r.Event(bc, corev1.EventTypeWarning, "ContextMayHaveLeaked", "Create",
			"The create of %s got no recorded answer, so a Browserbase context may have been made and left: contexts cannot be "+
				"listed, so it cannot be found again (it costs no browser time). Creating another", at)
	}
	reconcile.MarkProgressing(bc, v1alpha1.ReasonContextCreating, "Creating the Browserbase context")
	if err := r.markCreateAttempt(ctx, bc); err != nil {
		return "", err
	}
	c, err := r.Browserbase.CreateContext(ctx, apiKey, bc.Spec.ProjectID)
	if err != nil {
		if browserbase.Refused(err) {
			// Browserbase refused: nothing was created, so nothing may have leaked.
			if clearErr := r.clearCreateAttempt(ctx, bc); clearErr != nil {
				log.FromContext(ctx).Error(clearErr, "Could not clear the create-attempt annotation")
			}
		}
		return "", reconcile.Classify(reconcile.KeySource(bc.Spec.APIKeySecretRef), "create the Browserbase context", err)
	}
	// Kept in memory until the Secret holds it: a failed Secret write must not lose it.
	r.pending.Set(bc.UID, c.ID)
	log.FromContext(ctx).Info("Created Browserbase context", "contextID", redactID(c.ID), "secret", SecretName(bc))
	r.Event(bc, corev1.EventTypeNormal, "ContextCreated", "Create",
		"Created Browserbase context %s; its id is in Secret %q, key %s", redactID(c.ID), SecretName(bc), SecretKeyContextID)
	return c.ID, nil
}

// markCreateAttempt records the time of the create about to be made, and the finalizer, in one
// write with a resourceVersion precondition: a stale copy of bc (a lagging cache, a second
// manager) fails with a conflict instead of creating a second context.
func (r *Reconciler) markCreateAttempt(ctx context.Context, bc *v1alpha1.BrowserContext) error {
	base := bc.DeepCopy()
	if bc.Annotations == nil {
		bc.Annotations = map[string]string{}
	}
	bc.Annotations[v1alpha1.AnnotationContextCreateAttemptedAt] = r.Now().UTC().Format(time.RFC3339)
	controllerutil.AddFinalizer(bc, v1alpha1.ContextFinalizer)
	return reconcile.PatchMetadata(ctx, r.Client, bc, base)
}

// clearCreateAttempt removes the create-attempt annotation after a create that certainly made
// nothing.
func (r *Reconciler) clearCreateAttempt(ctx context.Context, bc *v1alpha1.BrowserContext) error {
	base := bc.DeepCopy()
	delete(bc.Annotations, v1alpha1.AnnotationContextCreateAttemptedAt)
	return reconcile.PatchMetadata(ctx, r.Client, bc, base)
}
