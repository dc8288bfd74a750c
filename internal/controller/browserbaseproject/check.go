package browserbaseproject

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// checked is what a project's last check against Browserbase found, and for which inputs: the
// check is made again only when the spec or the key changed, or the refresh is due.
type checked struct {
	generation int64
	keyHash    [sha256.Size]byte
	at         time.Time
	project    browserbase.Project
	// refused is the stall the check ended in (a refused key, an unknown project): the same
	// inputs get the same answer without another call.
	refused error
}

// readKey reads the project's API key from its Secret. A missing Secret or key is a wait that
// says what to create; the Secret watch wakes the project when it appears.
func (r *Reconciler) readKey(ctx context.Context, v view) (browserbase.Sensitive, error) {
	ref := secretKey(v)
	value, err := r.Credentials.SecretValue(ctx, ref.Namespace, ref.Name, v.keyName(), "the Browserbase API key")
	if err != nil {
		return "", err
	}
	return browserbase.Sensitive(value), nil
}

// check routes the key to the project's base URL and reads the project from Browserbase: by
// spec.projectId, or the one project the key sees. A refused key or an unknown project stalls
// until the Secret or the spec changes (both wake the project), with no call meanwhile; an
// unreachable API backs off.
func (r *Reconciler) check(ctx context.Context, obj object, v view, key browserbase.Sensitive) (browserbase.Project, error) {
	if r.Router != nil {
		if err := r.Router.Route(key, v.spec.BaseURL); err != nil {
			return browserbase.Project{}, reconcile.Stalled(v1alpha1.ReasonInvalidSpec, "spec.baseURL: %v", err)
		}
	}
	hash := sha256.Sum256([]byte(key.Reveal()))
	last, ok := r.checked.Get(obj.GetUID())
	if ok && last.generation == obj.GetGeneration() && last.keyHash == hash {
		if last.refused != nil {
			return browserbase.Project{}, last.refused
		}
		if r.Now().Sub(last.at) < r.refreshInterval() {
			return last.project, nil
		}
	}
	found, err := r.readProject(ctx, v, key)
	if _, stalled := errors.AsType[*reconcile.StallError](err); stalled {
		r.checked.Set(obj.GetUID(), checked{generation: obj.GetGeneration(), keyHash: hash, at: r.Now(), refused: err})
	}
	if err != nil {
		return browserbase.Project{}, err
	}
	r.checked.Set(obj.GetUID(), checked{generation: obj.GetGeneration(), keyHash: hash, at: r.Now(), project: found})
	return found, nil
}

// readProject is the project as Browserbase reports it.
func (r *Reconciler) readProject(ctx context.Context, v view, key browserbase.Sensitive) (browserbase.Project, error) {
	source := fmt.Sprintf("Secret %s/%s key %q", v.secretNamespace, v.spec.APIKeySecretRef.Name, v.keyName())
	if id := v.spec.ProjectID; id != "" {
		p, err := r.Browserbase.GetProject(ctx, key, id)
		if browserbase.IsNotFound(err) {
			return browserbase.Project{}, reconcile.Stalled(v1alpha1.ReasonProjectNotFound,
				"Browserbase has no project %q for the API key in %s: correct spec.projectId, or put that project's key in the Secret", id, source)
		}
		if err != nil {
			return browserbase.Project{}, classify(source, err)
		}
		return *p, nil
	}
	projects, err := r.Browserbase.ListProjects(ctx, key)
	if err != nil {
		return browserbase.Project{}, classify(source, err)
	}
	if len(projects) != 1 {
		return browserbase.Project{}, reconcile.Stalled(v1alpha1.ReasonInvalidSpec,
			"The API key in %s sees %d projects: set spec.projectId to the one to use", source, len(projects))
	}
	return projects[0], nil
}

// classify is reconcile.Classify for a project check: a refused key stalls (the Secret watch
// brings the fix), a rate limit waits, and anything else says the API cannot be reached.
func classify(source string, err error) error {
	if browserbase.IsUnauthorized(err) {
		return reconcile.Stalled(v1alpha1.ReasonCredentialsRejected,
			"Browserbase rejected the API key in %s: %v. Put a valid key there; the project is checked again as soon as the Secret changes",
			source, err)
	}
	if browserbase.IsRateLimited(err) || browserbase.IsRejected(err) {
		return reconcile.Classify(source, "read the Browserbase project", err)
	}
	return &unreachableError{err: err}
}

// unreachableError is a failure to reach Browserbase: transient, backed off, and reported as
// APIUnreachable while the project is not Ready.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string {
	return "could not reach Browserbase to read the project (check spec.baseURL and the network): " + e.err.Error()
}
func (e *unreachableError) Unwrap() error { return e.err }

func (r *Reconciler) refreshInterval() time.Duration {
	if r.RefreshInterval > 0 {
		return r.RefreshInterval
	}
	return DefaultRefreshInterval
}
