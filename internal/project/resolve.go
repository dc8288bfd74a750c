package project

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// An Account is what a BrowserSession calls Browserbase with: its key, the queue its creates
// wait in, and its project, when it has one.
type Account struct {
	Key   browserbase.Sensitive
	Queue queue.Key
	// Project is the project object the session uses; nil for a key used directly.
	Project *Entry
	// Source names where the key comes from, for messages.
	Source string
}

// A Resolver finds the Account of a BrowserSession: the key of its apiKeySecretRef; else the
// project its projectRef names, else the default ClusterBrowserbaseProject; else the operator's
// default key, so that manifests written before projects existed keep working.
type Resolver struct {
	// Reader reads project objects from the manager's cache: they are watched.
	Reader client.Reader
	// Credentials reads keys named directly, and holds the operator's default key.
	Credentials *reconcile.Credentials
	// Registry holds what the project controller learned of each project object.
	Registry *Registry
	// RecheckInterval is how often a session naming a missing project looks again (the project
	// watch wakes it sooner once the project is made).
	RecheckInterval time.Duration
}

// Resolve returns the account of a resource in namespace with projectRef and keyRef, or an
// error that says what to change: a missing or unready project is a wait (GitOps tools create
// objects in any order); a namespace outside a cluster project's shares is a stall. A resource
// that holds a session (held) keeps the last key its project published while the project is not
// Ready: a Secret edited by mistake must not make running sessions unreadable, nor unreleasable.
func (r *Resolver) Resolve(ctx context.Context, namespace string, projectRef *v1alpha1.ProjectReference, keyRef *v1alpha1.APIKeySecretReference, held bool) (Account, error) {
	if keyRef != nil {
		return r.keyAccount(ctx, namespace, keyRef)
	}
	ref, named, err := r.projectOf(ctx, namespace, projectRef)
	if err != nil {
		return Account{}, err
	}
	if ref == nil {
		return r.keyAccount(ctx, namespace, nil)
	}
	entry, ok := r.Registry.Get(*ref)
	if ok && !entry.Ready && held && entry.Key != "" {
		return Account{Key: entry.Key, Queue: ref.Queue(), Project: &entry, Source: ref.String()}, nil
	}
	if !ok || !entry.Ready {
		msg := "it has not been checked yet"
		if ok {
			msg = entry.Message
		}
		return Account{}, &reconcile.WaitError{
			Reason:  v1alpha1.ReasonProjectNotReady,
			Message: fmt.Sprintf("Waiting for %s to be Ready: %s", ref, msg),
			After:   r.RecheckInterval,
		}
	}
	if err := entry.Allows(namespace); err != nil {
		how := "named in spec.projectRef"
		if !named {
			how = "the default project"
		}
		return Account{}, reconcile.Stalled(v1alpha1.ReasonNamespaceNotAllowed, "%s (%s)", err.Error(), how)
	}
	return Account{Key: entry.Key, Queue: ref.Queue(), Project: &entry, Source: ref.String()}, nil
}

// keyAccount is the account of a key named directly, or of the operator's default key.
func (r *Resolver) keyAccount(ctx context.Context, namespace string, keyRef *v1alpha1.APIKeySecretReference) (Account, error) {
	key, err := r.Credentials.APIKey(ctx, namespace, keyRef)
	if err != nil {
		return Account{}, err
	}
	return Account{Key: key, Queue: KeyQueue(key), Source: reconcile.KeySource(keyRef)}, nil
}

// projectOf is the project a resource uses: the one projectRef names (named true), the default
// ClusterBrowserbaseProject, or nil for none.
func (r *Resolver) projectOf(ctx context.Context, namespace string, projectRef *v1alpha1.ProjectReference) (*Ref, bool, error) {
	if r.Reader == nil {
		// No project objects are served (unit tests of keys alone).
		return nil, false, nil
	}
	if projectRef != nil {
		ref := RefOf(namespace, projectRef)
		if err := r.exists(ctx, ref); err != nil {
			return nil, true, err
		}
		return &ref, true, nil
	}
	def, err := DefaultProject(ctx, r.Reader)
	if err != nil || def == nil {
		return nil, false, err
	}
	ref := Ref{Kind: v1alpha1.KindClusterBrowserbaseProject, Name: def.Name}
	return &ref, false, nil
}

// exists reports a project object that is not there as a wait that names what to create.
func (r *Resolver) exists(ctx context.Context, ref Ref) error {
	var obj client.Object = &v1alpha1.BrowserbaseProject{}
	if ref.Kind == v1alpha1.KindClusterBrowserbaseProject {
		obj = &v1alpha1.ClusterBrowserbaseProject{}
	}
	err := r.Reader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, obj)
	if apierrors.IsNotFound(err) {
		return &reconcile.WaitError{
			Reason: v1alpha1.ReasonProjectNotFound,
			Message: fmt.Sprintf("%s not found: create it, or change spec.projectRef (kind %s, name %q)",
				ref, ref.Kind, ref.Name),
			After: r.RecheckInterval,
		}
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", ref, err)
	}
	return nil
}

// DefaultProject is the ClusterBrowserbaseProject annotated browserbase.io/default-project:
// "true"; with several, the oldest (then the first by name), so that adding a second changes
// nothing for the sessions already using the first. Nil when none is.
func DefaultProject(ctx context.Context, reader client.Reader) (*v1alpha1.ClusterBrowserbaseProject, error) {
	list := &v1alpha1.ClusterBrowserbaseProjectList{}
	if err := reader.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing ClusterBrowserbaseProjects: %w", err)
	}
	var best *v1alpha1.ClusterBrowserbaseProject
	for i := range list.Items {
		p := &list.Items[i]
		if p.Annotations[v1alpha1.AnnotationDefaultProject] != "true" || !p.DeletionTimestamp.IsZero() {
			continue
		}
		if best == nil || p.CreationTimestamp.Before(&best.CreationTimestamp) ||
			p.CreationTimestamp.Equal(&best.CreationTimestamp) && p.Name < best.Name {
			best = p
		}
	}
	return best, nil
}
