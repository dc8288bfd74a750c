package controller

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// Keys of the Secret the operator writes. They are valid environment variable names, so a
// workload can take them all with envFrom.
const (
	SecretKeySessionID         = "sessionId"
	SecretKeyConnectURL        = "connectUrl"
	SecretKeySeleniumRemoteURL = "seleniumRemoteUrl"
	SecretKeySigningKey        = "signingKey"
	SecretKeyExpiresAt         = "expiresAt"
)

// ManagedByLabel marks the Secrets the operator writes. The manager caches only Secrets with
// this label, so it never holds every Secret of the cluster in memory.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "browserbase-session-operator"
)

// CacheOptions restricts the manager's Secret cache to the Secrets the operator writes (API-key
// and proxy-password Secrets are read through the APIReader instead), and keeps out of the cache
// what the operator never reads: memory then grows with the BrowserSessions, not the cluster.
func CacheOptions() cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})},
		},
		DefaultTransform: stripUnread,
	}
}

// stripUnread drops managedFields, and the last-applied-configuration annotation that
// client-side kubectl apply leaves (a second copy of the manifest): together often more than
// half of a cached BrowserSession. Patches are computed between copies that both lack them, so
// they never touch them.
func stripUnread(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil // a tombstone: nothing to strip
	}
	if obj.GetManagedFields() != nil {
		obj.SetManagedFields(nil)
	}
	if a := obj.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
		a = maps.Clone(a)
		delete(a, corev1.LastAppliedConfigAnnotation)
		obj.SetAnnotations(a)
	}
	return in, nil
}

// FieldOwner is the operator's field manager name for the objects it writes.
const FieldOwner = client.FieldOwner("browserbase-session-operator")

// secretName is the name of the Secret bs's credentials go to.
func secretName(bs *v1alpha1.BrowserSession) string {
	if bs.Spec.SecretName != "" {
		return bs.Spec.SecretName
	}
	return bs.Name + "-browserbase"
}

// readOwnedSecret starts reading the Secret that holds bs's credentials and returns a function
// that waits for the answer: the Secret, or nil when there is none yet. The cache holds only the
// operator's labelled Secrets, so a name it does not know is asked of the API server; that read
// runs while the reconcile goes on (beside the create-attempt write, for a new session), not
// before it. A Secret of that name that bs does not control is someone else's: it is never
// overwritten, and the resource stalls with a message saying so.
func (r *BrowserSessionReconciler) readOwnedSecret(ctx context.Context, bs *v1alpha1.BrowserSession) func() (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: bs.Namespace, Name: secretName(bs)}
	secret := &corev1.Secret{}
	err := r.Get(ctx, key, secret)
	if !apierrors.IsNotFound(err) {
		return func() (*corev1.Secret, error) { return checkOwned(bs, key.Name, secret, err) }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// From the API server's watch cache (resourceVersion 0), not a quorum read of etcd: a
		// Secret made in the last milliseconds is then missed here, but not by the create of the
		// operator's own Secret, which fails, and the next pass sees it and stalls.
		err = r.APIReader.Get(ctx, key, secret, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}})
	}()
	return func() (*corev1.Secret, error) {
		<-done
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return checkOwned(bs, key.Name, secret, err)
	}
}

// checkOwned returns the Secret named name, read with err, if bs controls it.
func checkOwned(bs *v1alpha1.BrowserSession, name string, secret *corev1.Secret, err error) (*corev1.Secret, error) {
	if err != nil {
		return nil, fmt.Errorf("reading Secret %q: %w", name, err)
	}
	if !metav1.IsControlledBy(secret, bs) {
		return nil, stalled(v1alpha1.ReasonSecretConflict,
			"Secret %q already exists and is not owned by this BrowserSession; the operator will not overwrite it. "+
				"Delete or rename that Secret, or re-create this BrowserSession with another spec.secretName", name)
	}
	return secret, nil
}

// reconcileSecret writes the session's credentials into bs's Secret (existing, as
// readOwnedSecret found it earlier in the pass, or nil): created if missing, updated only when the data differs.
// Workloads read connectUrl from it. The connect fields come from the create answer, or from a
// get that returned them; when neither has them the existing Secret's values stay. A Secret
// someone else created meanwhile makes the create fail, and the next pass refuses it.
func (r *BrowserSessionReconciler) reconcileSecret(ctx context.Context, bs *v1alpha1.BrowserSession, sess *browserbase.Session, existing *corev1.Secret) error {
	bs.Status.SecretName = secretName(bs)
	data := map[string][]byte{
		SecretKeySessionID: []byte(sess.ID),
		SecretKeyExpiresAt: []byte(sess.ExpiresAt.UTC().Format(time.RFC3339)),
	}
	connect := map[string][]byte{
		SecretKeyConnectURL:        []byte(sess.ConnectURL.Reveal()),
		SecretKeySeleniumRemoteURL: []byte(sess.SeleniumRemoteURL),
		SecretKeySigningKey:        []byte(sess.SigningKey.Reveal()),
	}
	if sess.ConnectURL == "" {
		if existing == nil || len(existing.Data[SecretKeyConnectURL]) == 0 {
			return stalled(v1alpha1.ReasonConnectDetailsUnavailable,
				"Browserbase no longer returns the connect URL of session %s and Secret %q does not hold it; "+
					"delete and re-create the BrowserSession to start a new session", sess.ID, secretName(bs))
		}
		for k := range connect {
			connect[k] = existing.Data[k]
		}
	}
	maps.Copy(data, connect)

	if existing == nil {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:      secretName(bs),
				Namespace: bs.Namespace,
				// Only the operator's own label: copying the resource's labels would make GitOps
				// tools treat the Secret as theirs and prune it.
				Labels: map[string]string{ManagedByLabel: ManagedByValue},
			},
			Type: corev1.SecretTypeOpaque,
			Data: data,
		}
		if err := controllerutil.SetControllerReference(bs, secret, r.Scheme()); err != nil {
			return err
		}
		if err := r.Create(ctx, secret, FieldOwner); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// Created between our read and our write; the next pass decides whose it is.
				return apierrors.NewConflict(corev1.Resource("secrets"), secret.Name, err)
			}
			return fmt.Errorf("creating Secret %q: %w", secret.Name, err)
		}
		return nil
	}

	if maps.EqualFunc(existing.Data, data, func(a, b []byte) bool { return string(a) == string(b) }) &&
		existing.Labels[ManagedByLabel] == ManagedByValue {
		return nil
	}
	base := existing.DeepCopy()
	existing.Data = data
	if existing.Labels == nil {
		existing.Labels = map[string]string{}
	}
	existing.Labels[ManagedByLabel] = ManagedByValue
	if err := r.Patch(ctx, existing, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), FieldOwner); err != nil {
		return fmt.Errorf("updating Secret %q: %w", existing.Name, err)
	}
	return nil
}
