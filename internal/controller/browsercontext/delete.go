package browsercontext

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// inUseRecheck is how often a context kept for its BrowserSessions is looked at again without a
// watch event. It costs a list from the cache, no Browserbase call.
const inUseRecheck = time.Minute

// reconcileDelete deletes the context (deletionPolicy Delete) once no BrowserSession refers to
// it, then lets the Secret go and removes the finalizer, which lets Kubernetes delete the
// resource and, through the owner reference, its Secret.
func (r *Reconciler) reconcileDelete(ctx context.Context, bc *v1alpha1.BrowserContext) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(bc, v1alpha1.ContextFinalizer) {
		return ctrl.Result{}, nil
	}
	secret, err := r.readSecret(ctx, bc)
	if _, foreign := errors.AsType[*reconcile.StallError](err); foreign {
		// Someone else's Secret never held this resource's id.
		secret, err = nil, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	id := contextIDOf(secret)
	if id == "" {
		id = r.pendingID(bc)
	}
	if err := r.deleteContext(ctx, bc, id); err != nil {
		return ctrl.Result{}, err
	}
	// The Secret first: once the resource's finalizer is gone, nothing would remove the Secret's.
	if err := r.releaseSecret(ctx, secret); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.memory.Release(ctx, r.Client, bc, v1alpha1.ContextFinalizer)
}

// deleteContext deletes the context with id, unless there is nothing to delete (no context was
// recorded, or its id was lost with the Secret), the policy is Orphan, or the skip-release
// annotation lets it go. An id other than the one status records is not deleted: whoever can
// edit the Secret could otherwise have the operator delete another context of the project. It
// waits while a BrowserSession in the namespace uses the context, by the resource's name or by
// the id: deleting a context under a running session would lose what it persists. A context
// Browserbase no longer knows counts as deleted.
func (r *Reconciler) deleteContext(ctx context.Context, bc *v1alpha1.BrowserContext, id string) error {
	switch {
	case id == "":
		if at, ok := bc.Annotations[v1alpha1.AnnotationContextCreateAttemptedAt]; ok {
			log.FromContext(ctx).Info("No context id was recorded after a create; any context it made cannot be found and is left in Browserbase",
				"attemptedAt", at)
		} else if bc.Status.IDDigest != "" && bc.Spec.DeletionPolicy != v1alpha1.DeletionPolicyOrphan {
			log.FromContext(ctx).Info("The context id was lost with its Secret; the context is left in Browserbase", "contextID", bc.Status.RedactedID)
			r.Event(bc, corev1.EventTypeWarning, "ContextLeft", "Delete",
				"Left Browserbase context %s in place: its id was lost with Secret %q", bc.Status.RedactedID, SecretName(bc))
		}
		return nil
	case bc.Spec.DeletionPolicy == v1alpha1.DeletionPolicyOrphan:
		log.FromContext(ctx).Info("Leaving the Browserbase context (deletionPolicy Orphan)", "contextID", redactID(id))
		r.Event(bc, corev1.EventTypeNormal, "ContextOrphaned", "Delete",
			"Left Browserbase context %s in place (deletionPolicy Orphan); its id was in Secret %q", redactID(id), SecretName(bc))
		return nil
	case bc.Annotations[v1alpha1.AnnotationSkipRelease] == "true":
		log.FromContext(ctx).Info("Not deleting the Browserbase context (annotation "+v1alpha1.AnnotationSkipRelease+")", "contextID", redactID(id))
		r.Event(bc, corev1.EventTypeWarning, "DeleteSkipped", "Delete",
			"Left Browserbase context %s in place (annotation %s)", redactID(id), v1alpha1.AnnotationSkipRelease)
		return nil
	case !matchesRecord(bc, id):
		return r.explainDeleteFailure(bc, id, &reconcile.StallError{
			Reason: v1alpha1.ReasonContextIDMismatch,
			Message: fmt.Sprintf("Secret %q holds it, but this resource created context %s, so the operator does not delete another "+
				"context than its own; put that id back under key %s to delete it", SecretName(bc), bc.Status.RedactedID, SecretKeyContextID),
		})
	}

	users, err := r.sessionsUsing(ctx, bc, id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return reconcile.Wait(v1alpha1.ReasonContextInUse, inUseRecheck,
			"Waiting to delete Browserbase context %s until no BrowserSession uses it: %s. "+
				"Delete them, or set deletionPolicy Orphan to keep the context", redactID(id), listNames(users))
	}

	reconcile.MarkProgressing(bc, v1alpha1.ReasonContextDeleting, fmt.Sprintf("Deleting Browserbase context %s", redactID(id)))
	apiKey, err := r.Credentials.APIKey(ctx, bc.Namespace, bc.Spec.APIKeySecretRef)
	if err != nil {
		return r.explainDeleteFailure(bc, id, err)
	}
	err = r.Browserbase.DeleteContext(ctx, apiKey, id)
	switch {
	case err == nil:
		log.FromContext(ctx).Info("Deleted Browserbase context", "contextID", redactID(id))
		r.Event(bc, corev1.EventTypeNormal, "ContextDeleted", "Delete", "Deleted Browserbase context %s", redactID(id))
	case browserbase.IsNotFound(err):
		log.FromContext(ctx).Info("The Browserbase context was already deleted", "contextID", redactID(id))
	default:
		return r.explainDeleteFailure(bc, id,
			reconcile.Classify(reconcile.KeySource(bc.Spec.APIKeySecretRef), "delete the Browserbase context", redactErr(err, id)))
	}
	return nil
}

// explainDeleteFailure adds to a stall or a wait the way out: the skip-release annotation. A
// context, unlike a session, never expires, so nothing else ends the wait. Stalls are looked at
// again at the poll interval, so a key put back lets the deletion go on.
func (r *Reconciler) explainDeleteFailure(bc *v1alpha1.BrowserContext, id string, err error) error {
	explain := func(why string) string {
		return fmt.Sprintf("Cannot delete Browserbase context %s: %s. To delete this resource and leave the context in Browserbase: "+
			"kubectl annotate browsercontext %s %s=true", redactID(id), why, bc.Name, v1alpha1.AnnotationSkipRelease)
	}
	if wait, ok := errors.AsType[*reconcile.WaitError](err); ok {
		wait.Message = explain(wait.Message)
		return wait
	}
	if stall, ok := errors.AsType[*reconcile.StallError](err); ok {
		stall.Message = explain(stall.Message)
		if stall.Recheck == 0 {
			stall.Recheck = r.pollInterval()
		}
		return stall
	}
	return err
}

// sessionsUsing returns the names of the BrowserSessions in bc's namespace that use its
// context, id: those that name bc (spec.browserSettings.context.name) and those that give id
// (context.id), sorted, from the cache (through the field indexes). Browserbase sessions whose
// BrowserSession is gone (deletionPolicy Orphan) or that were made outside the cluster are not
// counted: nothing in the cluster records them, and Browserbase cannot list sessions by context.
func (r *Reconciler) sessionsUsing(ctx context.Context, bc *v1alpha1.BrowserContext, id string) ([]string, error) {
	var names []string
	for field, value := range map[string]string{sessionindex.ContextName: bc.Name, sessionindex.ContextID: id} {
		list := &v1alpha1.BrowserSessionList{}
		if err := r.List(ctx, list, client.InNamespace(bc.Namespace), client.MatchingFields{field: value}); err != nil {
			return nil, fmt.Errorf("listing the BrowserSessions that use this context: %w", err)
		}
		for _, bs := range list.Items {
			names = append(names, bs.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// maxNamesShown bounds the names in a message, which must stay short.
const maxNamesShown = 5

// listNames joins names for a message, at most maxNamesShown of them.
func listNames(names []string) string {
	if len(names) <= maxNamesShown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamesShown], ", "), len(names)-maxNamesShown)
}
