package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// defaultAPIKeyRef is the Secret key read when spec.apiKeySecretRef.key is empty.
const defaultAPIKeyRef = "apiKey"

// credentials returns the API key for bs: the one in spec.apiKeySecretRef, else the operator's
// default. When neither can be read it returns a stallError that says what to create; no
// Browserbase call is made without a key.
func (r *BrowserSessionReconciler) credentials(ctx context.Context, bs *v1alpha1.BrowserSession) (browserbase.Sensitive, error) {
	ref := bs.Spec.APIKeySecretRef
	if ref == nil {
		if r.DefaultAPIKey == "" {
			return "", stalled(v1alpha1.ReasonCredentialsMissing,
				"No Browserbase API key: spec.apiKeySecretRef is not set and the operator has no default key. "+
					"Set BROWSERBASE_API_KEY on the operator, or re-create this BrowserSession with spec.apiKeySecretRef "+
					"naming a Secret in namespace %q that holds the key", bs.Namespace)
		}
		return r.DefaultAPIKey, nil
	}
	key := ref.Key
	if key == "" {
		key = defaultAPIKeyRef
	}
	value, err := r.secretValue(ctx, bs.Namespace, ref.Name, key, "the Browserbase API key")
	if err != nil {
		return "", err
	}
	return browserbase.Sensitive(value), nil
}

// secretValue reads one key of a Secret that the user provides (an API key, a proxy password).
// Those Secrets are read straight from the API server: the operator's cache holds only the
// Secrets it writes, never every Secret in the cluster. Values are trimmed, because a Secret
// made from a file usually ends in a newline.
func (r *BrowserSessionReconciler) secretValue(ctx context.Context, namespace, name, key, what string) (string, error) {
	secret := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret)
	if apierrors.IsNotFound(err) {
		return "", &stallError{
			reason: v1alpha1.ReasonCredentialsMissing,
			message: fmt.Sprintf("Secret %q not found in namespace %q: create it with %s under key %q, for example "+
				"kubectl create secret generic %s -n %s --from-literal=%s=<value>", name, namespace, what, key, name, namespace, key),
			recheck: r.CredentialsRecheckInterval,
		}
	}
	if err != nil {
		return "", fmt.Errorf("reading Secret %q: %w", name, err)
	}
	value := strings.TrimSpace(string(secret.Data[key]))
	if value == "" {
		return "", &stallError{
			reason:  v1alpha1.ReasonCredentialsMissing,
			message: fmt.Sprintf("Secret %q in namespace %q has no value under key %q: put %s there", name, namespace, key, what),
			recheck: r.CredentialsRecheckInterval,
		}
	}
	return value, nil
}

// keySource names where the API key of bs comes from, for messages.
func keySource(bs *v1alpha1.BrowserSession) string {
	if ref := bs.Spec.APIKeySecretRef; ref != nil {
		key := ref.Key
		if key == "" {
			key = defaultAPIKeyRef
		}
		return fmt.Sprintf("Secret %q key %q", ref.Name, key)
	}
	return "the operator's BROWSERBASE_API_KEY"
}
