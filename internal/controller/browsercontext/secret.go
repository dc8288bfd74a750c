package browsercontext

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// SecretKeyContextID is the key of the context id in the Secret.
const SecretKeyContextID = v1alpha1.ContextIDSecretKey

// SecretName is the name of the Secret bc's context id goes to: spec.secretName, else
// "<name>-browserbase-context".
func SecretName(bc *v1alpha1.BrowserContext) string {
	if bc.Spec.SecretName != "" {
		return bc.Spec.SecretName
	}
	return bc.Name + "-browserbase-context"
}

// readSecret reads bc's Secret from the API server (the cache holds only the metadata of the
// operator's Secrets, never their data): nil when there is none. A Secret of that name that bc
// does not control is someone else's: it is never overwritten, and the resource stalls with a
// message saying so. Except a Secret that no one controls holding the very id status records: a
// person re-created the lost Secret (see contextID), and writeSecret adopts it.
func (r *Reconciler) readSecret(ctx context.Context, bc *v1alpha1.BrowserContext) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: bc.Namespace, Name: SecretName(bc)}, secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %q: %w", SecretName(bc), err)
	}
	if !metav1.IsControlledBy(secret, bc) && !restored(bc, secret) {
		return nil, reconcile.Stalled(v1alpha1.ReasonSecretConflict,
			"Secret %q already exists and is not owned by this BrowserContext; the operator will not overwrite it. "+
				"Delete or rename that Secret, or re-create this BrowserContext with another spec.secretName", secret.Name)
	}
	return secret, nil
}

// restored tells whether secret, which bc does not control, is bc's lost Secret re-created by a
// person: no one controls it, and it holds the id status records.
func restored(bc *v1alpha1.BrowserContext, secret *corev1.Secret) bool {
	id := contextIDOf(secret)
	return bc.Status.IDDigest != "" && id != "" && matchesRecord(bc, id) && metav1.GetControllerOf(secret) == nil
}

// contextIDOf is the context id secret holds, "" for none.
func contextIDOf(secret *corev1.Secret) string {
	if secret == nil {
		return ""
	}
	return string(secret.Data[SecretKeyContextID])
}

// writeSecret makes bc's Secret (found by readSecret, or nil) hold id, as claim leaves it:
// created if missing, patched only when something differs. Other keys are left as they are.
func (r *Reconciler) writeSecret(ctx context.Context, bc *v1alpha1.BrowserContext, found *corev1.Secret, id string) error {
	if found == nil {
		return r.createSecret(ctx, bc, id)
	}
	base := found.DeepCopy()
	if err := r.claim(bc, found, id); err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(base, found) {
		return nil
	}
	if err := r.Patch(ctx, found, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), operator.FieldOwner); err != nil {
		return fmt.Errorf("updating Secret %q: %w", found.Name, err)
	}
	return nil
}

// claim makes secret hold id under SecretKeyContextID, with the operator's label (which the
// manager's cache selects on; only that one: copying the resource's labels would make GitOps
// tools treat the Secret as theirs and prune it), bc as its controller (a restored Secret, see
// readSecret, is adopted), and the context finalizer. The finalizer keeps the Secret, the only
// record of the id, until the context is deleted: a foreground deletion of bc (kubectl delete
// --cascade=foreground, Argo CD's default) deletes its dependents first.
func (r *Reconciler) claim(bc *v1alpha1.BrowserContext, secret *corev1.Secret, id string) error {
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	secret.Data[SecretKeyContextID] = []byte(id)
	if secret.Labels == nil {
		secret.Labels = map[string]string{}
	}
	secret.Labels[operator.ManagedByLabel] = operator.ManagedByValue
	if secret.DeletionTimestamp.IsZero() {
		// A finalizer cannot be added to an object being deleted.
		controllerutil.AddFinalizer(secret, v1alpha1.ContextFinalizer)
	}
	if metav1.IsControlledBy(secret, bc) {
		return nil
	}
	return controllerutil.SetControllerReference(bc, secret, r.Scheme())
}

// createSecret creates bc's Secret holding id.
func (r *Reconciler) createSecret(ctx context.Context, bc *v1alpha1.BrowserContext, id string) error {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: bc.Namespace, Name: SecretName(bc)}, Type: corev1.SecretTypeOpaque}
	if err := r.claim(bc, secret, id); err != nil {
		return err
	}
	switch err := r.Create(ctx, secret, operator.FieldOwner); {
	case apierrors.IsAlreadyExists(err):
		// Created between our read and our write; the next pass decides whose it is (the id is
		// kept in memory meanwhile).
		return apierrors.NewConflict(corev1.Resource("secrets"), secret.Name, err)
	case err != nil:
		return fmt.Errorf("creating Secret %q: %w", secret.Name, err)
	}
	return nil
}

// releaseSecret removes the context finalizer from bc's Secret, once the context is deleted or
// left: garbage collection then deletes the Secret with bc.
func (r *Reconciler) releaseSecret(ctx context.Context, secret *corev1.Secret) error {
	if secret == nil || !controllerutil.ContainsFinalizer(secret, v1alpha1.ContextFinalizer) {
		return nil
	}
	base := secret.DeepCopy()
	controllerutil.RemoveFinalizer(secret, v1alpha1.ContextFinalizer)
	if err := r.Patch(ctx, secret, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), operator.FieldOwner); err != nil {
		return client.IgnoreNotFound(err)
	}
	return nil
}

// secretBeingDeleted stalls a resource whose Secret someone deletes while the resource stays:
// the Secret is the only record of the context id, so the finalizer keeps it, and a person must
// choose between deleting the context (delete the resource) and forgetting it.
func secretBeingDeleted(bc *v1alpha1.BrowserContext, secret *corev1.Secret, id string) error {
	if secret == nil || secret.DeletionTimestamp.IsZero() {
		return nil
	}
	return reconcile.Stalled(v1alpha1.ReasonSecretDeleting,
		"Secret %q is being deleted, but it is the only record of Browserbase context %s, so finalizer %s keeps it. "+
			"Delete this BrowserContext to delete the context with it; or, to start over with a new, empty context and leave "+
			"this one in Browserbase, remove the finalizer from the Secret and run: kubectl annotate browsercontext %s %s=%s",
		secret.Name, redactID(id), v1alpha1.ContextFinalizer, bc.Name, v1alpha1.AnnotationForgetContext, idDigest(id))
}
