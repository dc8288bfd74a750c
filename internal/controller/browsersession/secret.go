package browsersession

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
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

// secretName is the name of the Secret bs's credentials go to.
func secretName(bs *v1alpha1.BrowserSession) string {
	if bs.Spec.SecretName != "" {
		return bs.Spec.SecretName
	}
	return bs.Name + "-browserbase"
}

// startOwnedSecretRead starts reading the metadata of the Secret that holds bs's credentials and
// returns it as an ownedSecret, whose get waits for the answer: the metadata, or nil when there is
// no such Secret yet. The cache holds only the metadata of the operator's labelled Secrets (never their
// data, never anyone else's), so a name it does not know is asked of the API server; that read
// runs while the reconcile goes on (beside the create-attempt write, for a new session), not
// before it. A Secret of that name that bs does not control is someone else's: it is never
// overwritten, and the resource stalls with a message saying so.
func (r *Reconciler) startOwnedSecretRead(ctx context.Context, bs *v1alpha1.BrowserSession) ownedSecret {
	key := types.NamespacedName{Namespace: bs.Namespace, Name: secretName(bs)}
	secret := secretMetadata()
	err := r.Get(ctx, key, secret)
	if !apierrors.IsNotFound(err) {
		return newOwnedSecret(func() (*metav1.PartialObjectMetadata, error) { return checkOwned(bs, key.Name, secret, err) })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// From the API server's watch cache (resourceVersion 0), not a quorum read of etcd: a
		// Secret made in the last milliseconds is then missed here, but not by the create of the
		// operator's own Secret, which fails, and the next pass sees it and stalls.
		err = r.APIReader.Get(ctx, key, secret, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}})
	}()
	return newOwnedSecret(func() (*metav1.PartialObjectMetadata, error) {
		<-done
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return checkOwned(bs, key.Name, secret, err)
	})
}

// secretMetadata is an empty Secret metadata object, for reads of metadata only.
func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// checkOwned returns the metadata of the Secret named name, read with err, if bs controls it.
func checkOwned(bs *v1alpha1.BrowserSession, name string, secret *metav1.PartialObjectMetadata, err error) (*metav1.PartialObjectMetadata, error) {
	if err != nil {
		return nil, fmt.Errorf("reading Secret %q: %w", name, err)
	}
	if !metav1.IsControlledBy(secret, bs) {
		return nil, reconcile.Stalled(v1alpha1.ReasonSecretConflict,
			"Secret %q already exists and is not owned by this BrowserSession; the operator will not overwrite it. "+
				"Delete or rename that Secret, or re-create this BrowserSession with another spec.secretName", name)
	}
	return secret, nil
}

// writeSecret is the step after ensureSession: the live session's credentials go into bs's
// Secret. When no one has them any more, the session is released and a new one follows.
func (r *Reconciler) writeSecret(ctx context.Context, p *pass) error {
	if !p.live() || p.successorStarting() {
		return nil
	}
	secret, err := p.secret.get()
	if err != nil {
		return err
	}
	// A pass that made or adopted a session writes the Secret only if no one else wrote it since
	// the pass read it, before its create: the fence against a stale manager (a paused old
	// leader), whose status write then conflicts too, and which then releases its session.
	fenced := p.bs.Status.ID != p.before.Status.ID
	err = r.reconcileSecret(ctx, p.bs, p.sess, secret, fenced)
	if lost, ok := errors.AsType[*connectDetailsLostError](err); ok {
		result, err := r.replaceUnusableSession(ctx, p.bs, p.apiKey, lost)
		p.finish(result)
		return err
	}
	if err != nil {
		return err
	}
	r.pending.Forget(p.bs.UID)
	p.secretWritten = true
	return nil
}

// reconcileSecret writes the session's credentials into bs's Secret (found, as startOwnedSecretRead
// found its metadata earlier in the pass, or nil): created if missing, updated only when the data
// differs. Workloads read connectUrl from it. The connect fields come from the create answer, or
// from a get that returned them; when neither has them the Secret's values stay. A Secret
// someone else created meanwhile makes the create fail, and the next pass refuses it.
//
// The data is read from the API server only when the operator does not know it: a Secret it
// wrote or read at the resourceVersion the cache shows holds what it remembers (as digests), so
// a pass with nothing new reads nothing. A change by anyone else moves the resourceVersion, and
// the next pass reads the Secret and puts the credentials back.
//
// fenced asks for the Secret to be written only as found: a Secret made since fails to be
// created, and one changed since is not updated (both are conflicts, for the next pass).
func (r *Reconciler) reconcileSecret(ctx context.Context, bs *v1alpha1.BrowserSession, sess *browserbase.Session,
	found *metav1.PartialObjectMetadata, fenced bool) error {
	bs.Status.SecretName = secretName(bs)
	key := types.NamespacedName{Namespace: bs.Namespace, Name: secretName(bs)}
	data := map[string][]byte{
		SecretKeySessionID: []byte(sess.ID),
		SecretKeyExpiresAt: []byte(sess.ExpiresAt.UTC().Format(time.RFC3339)),
	}
	hasConnect := sess.ConnectURL != ""
	if hasConnect {
		data[SecretKeyConnectURL] = []byte(sess.ConnectURL.Reveal())
		data[SecretKeySeleniumRemoteURL] = []byte(sess.SeleniumRemoteURL)
		data[SecretKeySigningKey] = []byte(sess.SigningKey.Reveal())
	}

	if found == nil {
		if !hasConnect {
			return connectDetailsUnavailable(bs, sess)
		}
		return r.createSecret(ctx, bs, key, data)
	}
	revision := fmt.Sprint(bs.Status.Revision)
	if found.Labels[operator.ManagedByLabel] == operator.ManagedByValue && found.Annotations[v1alpha1.AnnotationSessionRevision] == revision &&
		r.digestsHold(bs, found.ResourceVersion, data, hasConnect) {
		return nil
	}

	existing := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, key, existing); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted since the cache saw it; the next pass creates it.
			return apierrors.NewConflict(corev1.Resource("secrets"), key.Name, err)
		}
		return fmt.Errorf("reading Secret %q: %w", key.Name, err)
	}
	r.rememberDigests(bs, existing.ResourceVersion, existing.Data)
	if fenced && existing.ResourceVersion != found.ResourceVersion {
		return apierrors.NewConflict(corev1.Resource("secrets"), key.Name,
			fmt.Errorf("written by someone else since this pass read it, before its create"))
	}
	if !hasConnect {
		// The stored connect details are kept only if they are this session's.
		if len(existing.Data[SecretKeyConnectURL]) == 0 || string(existing.Data[SecretKeySessionID]) != sess.ID {
			return connectDetailsUnavailable(bs, sess)
		}
		for _, k := range []string{SecretKeyConnectURL, SecretKeySeleniumRemoteURL, SecretKeySigningKey} {
			data[k] = existing.Data[k]
		}
	}
	if maps.EqualFunc(existing.Data, data, func(a, b []byte) bool { return string(a) == string(b) }) &&
		existing.Labels[operator.ManagedByLabel] == operator.ManagedByValue && existing.Annotations[v1alpha1.AnnotationSessionRevision] == revision {
		return nil
	}
	base := existing.DeepCopy()
	existing.Data = data
	if existing.Labels == nil {
		existing.Labels = map[string]string{}
	}
	existing.Labels[operator.ManagedByLabel] = operator.ManagedByValue
	if existing.Annotations == nil {
		existing.Annotations = map[string]string{}
	}
	existing.Annotations[v1alpha1.AnnotationSessionRevision] = revision
	if err := r.Patch(ctx, existing, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), operator.FieldOwner); err != nil {
		return fmt.Errorf("updating Secret %q: %w", existing.Name, err)
	}
	r.rememberDigests(bs, existing.ResourceVersion, data)
	return nil
}

// createSecret creates bs's Secret with data.
func (r *Reconciler) createSecret(ctx context.Context, bs *v1alpha1.BrowserSession, key types.NamespacedName, data map[string][]byte) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      key.Name,
			Namespace: key.Namespace,
			// Only the operator's own label: copying the resource's labels would make GitOps
			// tools treat the Secret as theirs and prune it.
			Labels:      map[string]string{operator.ManagedByLabel: operator.ManagedByValue},
			Annotations: map[string]string{v1alpha1.AnnotationSessionRevision: fmt.Sprint(bs.Status.Revision)},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	if err := controllerutil.SetControllerReference(bs, secret, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, secret, operator.FieldOwner); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Created between our read and our write; the next pass decides whose it is.
			return apierrors.NewConflict(corev1.Resource("secrets"), secret.Name, err)
		}
		return fmt.Errorf("creating Secret %q: %w", secret.Name, err)
	}
	r.rememberDigests(bs, secret.ResourceVersion, data)
	return nil
}

func connectDetailsUnavailable(bs *v1alpha1.BrowserSession, sess *browserbase.Session) error {
	return &connectDetailsLostError{sessionID: sess.ID, secret: secretName(bs)}
}

// A connectDetailsLostError says that no one has the connect URL and signing key of a running
// session any more: Browserbase's get does not return them (they are optional there), the
// Secret does not hold them, and the create answer that had them was not kept (the manager
// restarted before the Secret write succeeded). replaceUnusableSession handles it.
type connectDetailsLostError struct{ sessionID, secret string }

func (e *connectDetailsLostError) Error() string {
	return fmt.Sprintf("Browserbase does not return the connect details of session %s and Secret %q does not hold them", e.sessionID, e.secret)
}

// replaceUnusableSession releases a session whose connect details are lost, so that a session no
// workload can use does not run and bill until its timeout, and clears it from status: the next
// pass creates another under a new create-attempt token.
func (r *Reconciler) replaceUnusableSession(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, lost *connectDetailsLostError) (ctrl.Result, error) {
	if err := r.releaseSession(ctx, bs, apiKey, lost.sessionID, releasedAsUnusable(lost)); err != nil {
		return ctrl.Result{}, classify(bs, "release the session whose connect details are lost", err)
	}
	st := &bs.Status
	st.ID, st.SessionStatus, st.ConnectURL = "", "", ""
	st.ExpiresAt, st.StartedAt, st.EndedAt = nil, nil, nil
	// Every new session is a new revision: restart targets and env-var consumers move off the
	// released one.
	st.Revision = max(st.Revision, 1) + 1
	st.LastRotationTime = nil
	reconcile.MarkProgressing(bs, v1alpha1.ReasonConnectDetailsUnavailable,
		fmt.Sprintf("Released Browserbase session %s, whose connect details are lost; creating a new session", lost.sessionID))
	return ctrl.Result{RequeueAfter: time.Second}, nil
}

// Connect details (the connect URL and signing key) come only with the create answer: they are
// kept in memory, per resource, until they are in its Secret, so that a failed Secret write
// does not lose them while the session bills.

// keepPending remembers sess's connect details for bs.
func (r *Reconciler) keepPending(bs *v1alpha1.BrowserSession, sess *browserbase.Session) {
	r.pending.Set(bs.UID, browserbase.Session{ID: sess.ID, ConnectURL: sess.ConnectURL, SeleniumRemoteURL: sess.SeleniumRemoteURL, SigningKey: sess.SigningKey})
}

// fillPending copies the remembered connect details into sess, if they are sess's, and reports
// whether it did.
func (r *Reconciler) fillPending(bs *v1alpha1.BrowserSession, sess *browserbase.Session) bool {
	known, ok := r.pending.Get(bs.UID)
	if !ok || known.ID != sess.ID {
		return false
	}
	sess.ConnectURL, sess.SeleniumRemoteURL, sess.SigningKey = known.ConnectURL, known.SeleniumRemoteURL, known.SigningKey
	return true
}
