package browsersession

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// contextRecheck is how often a session waiting for its BrowserContext looks again, besides
// the watch on BrowserContexts that wakes it as soon as the context changes.
const contextRecheck = time.Minute

// contextID is the Browserbase context id bs's sessions load: spec's id, or the id in the
// Secret of the BrowserContext spec names, once that is Ready. Until then it is a wait, looked
// at again when the BrowserContext changes. The id is never put in a message.
func (r *Reconciler) contextID(ctx context.Context, bs *v1alpha1.BrowserSession) (string, error) {
	ref := bs.Spec.BrowserSettings.Context
	if ref.ID != "" {
		return ref.ID, nil
	}
	bc := &v1alpha1.BrowserContext{}
	err := r.Get(ctx, types.NamespacedName{Namespace: bs.Namespace, Name: ref.Name}, bc)
	if apierrors.IsNotFound(err) {
		return "", reconcile.Wait(v1alpha1.ReasonContextNotReady, contextRecheck,
			"BrowserContext %q not found in namespace %q: create it, or name an existing one in spec.browserSettings.context.name", ref.Name, bs.Namespace)
	}
	if err != nil {
		return "", err
	}
	if !bc.DeletionTimestamp.IsZero() {
		return "", reconcile.Wait(v1alpha1.ReasonContextNotReady, contextRecheck, "BrowserContext %q is being deleted", ref.Name)
	}
	if bc.Status.ObservedGeneration != bc.Generation || !meta.IsStatusConditionTrue(bc.Status.Conditions, v1alpha1.ConditionReady) || bc.Status.SecretName == "" {
		return "", reconcile.Wait(v1alpha1.ReasonContextNotReady, contextRecheck, "Waiting for BrowserContext %q to be Ready", ref.Name)
	}
	id, err := r.Credentials.SecretValue(ctx, bs.Namespace, bc.Status.SecretName, v1alpha1.ContextIDSecretKey, "the context id")
	if wait, ok := errors.AsType[*reconcile.WaitError](err); ok {
		wait.Reason = v1alpha1.ReasonContextNotReady
	}
	if err == nil && bc.Status.IDDigest != "" && operator.ContextIDDigest(id) != bc.Status.IDDigest {
		// Someone who may edit the context's Secret must not make sessions load another context.
		return "", reconcile.Wait(v1alpha1.ReasonContextNotReady, contextRecheck,
			"The id in Secret %q is not the context BrowserContext %q created; waiting for it to be restored", bc.Status.SecretName, ref.Name)
	}
	return id, err
}

// sessionsUsingContext maps a BrowserContext to the BrowserSessions that name it.
func (r *Reconciler) sessionsUsingContext(ctx context.Context, o client.Object) []ctrl.Request {
	list := &v1alpha1.BrowserSessionList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{sessionindex.ContextName: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Could not list the BrowserSessions that use a BrowserContext", "browserContext", o.GetName())
		return nil
	}
	out := make([]ctrl.Request, 0, len(list.Items))
	for _, bs := range list.Items {
		out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&bs)})
	}
	return out
}
