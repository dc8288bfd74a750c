package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// DefaultAPIKeyRef is the Secret key read when an apiKeySecretRef names no key.
const DefaultAPIKeyRef = "apiKey"

// Credentials resolves the Browserbase API key of a resource, and reads the other values users
// keep in Secrets (proxy passwords). Any kind with an apiKeySecretRef uses it.
type Credentials struct {
	// Reader reads straight from the API server: the operator's cache holds only the Secrets it
	// writes, never every Secret in the cluster.
	Reader client.Reader
	// Default is the manager's key, for resources without an apiKeySecretRef (may be empty).
	Default browserbase.Sensitive
	// RecheckInterval is how often a missing Secret is looked for again: no watch reports it.
	RecheckInterval time.Duration
}

// APIKey returns the key that ref names in namespace, else the default. When neither can be read
// it returns an error that says what to create (see SecretValue; without a ref and a default, a
// StallError, since only the operator's configuration can fix it); no Browserbase call is made
// without a key.
func (c *Credentials) APIKey(ctx context.Context, namespace string, ref *v1alpha1.APIKeySecretReference) (browserbase.Sensitive, error) {
	if ref == nil {
		if c.Default == "" {
			return "", Stalled(v1alpha1.ReasonCredentialsMissing,
				"No Browserbase API key: spec.apiKeySecretRef is not set and the operator has no default key. "+
					"Set BROWSERBASE_API_KEY on the operator, or re-create this resource with spec.apiKeySecretRef "+
					"naming a Secret in namespace %q that holds the key", namespace)
		}
		return c.Default, nil
	}
	value, err := c.SecretValue(ctx, namespace, ref.Name, keyOf(ref), "the Browserbase API key")
	if err != nil {
		return "", err
	}
	return browserbase.Sensitive(value), nil
}

// SecretValue reads one key of a Secret that the user provides (an API key, a proxy password).
// Values are trimmed, because a Secret made from a file usually ends in a newline. A missing
// Secret or key is a WaitError, not a stall: tools such as External Secrets, SOPS and
// sealed-secrets make the Secret some time after the resource, and it heals by itself then, so
// kstatus reports InProgress (and Flux's wait does not fail fast) while it is looked for again
// every RecheckInterval.
func (c *Credentials) SecretValue(ctx context.Context, namespace, name, key, what string) (string, error) {
	secret := &corev1.Secret{}
	err := c.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret)
	if apierrors.IsNotFound(err) {
		return "", &WaitError{
			Reason: v1alpha1.ReasonCredentialsMissing,
			Message: fmt.Sprintf("Secret %q not found in namespace %q: create it with %s under key %q, for example "+
				"kubectl create secret generic %s -n %s --from-literal=%s=<value>", name, namespace, what, key, name, namespace, key),
			After: c.RecheckInterval,
		}
	}
	if err != nil {
		return "", fmt.Errorf("reading Secret %q: %w", name, err)
	}
	value := strings.TrimSpace(string(secret.Data[key]))
	if value == "" {
		return "", &WaitError{
			Reason:  v1alpha1.ReasonCredentialsMissing,
			Message: fmt.Sprintf("Secret %q in namespace %q has no value under key %q: put %s there", name, namespace, key, what),
			After:   c.RecheckInterval,
		}
	}
	return value, nil
}

// KeySource names where the API key of a resource with ref comes from, for messages.
func KeySource(ref *v1alpha1.APIKeySecretReference) string {
	if ref != nil {
		return fmt.Sprintf("Secret %q key %q", ref.Name, keyOf(ref))
	}
	return "the operator's BROWSERBASE_API_KEY"
}

func keyOf(ref *v1alpha1.APIKeySecretReference) string {
	if ref.Key == "" {
		return DefaultAPIKeyRef
	}
	return ref.Key
}
