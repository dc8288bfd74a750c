// Package sessionindex holds the cache indexes of BrowserSessions by the context and the project
// they use, which several controllers use: a BrowserContext that turns Ready wakes the sessions that name it, and
// one being deleted finds the sessions that still use it, by its name or by its id. A manager
// accepts each index once, so Register registers them once per manager, whichever controller is
// set up first.
package sessionindex

import (
	"context"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/project"
)

// The index fields.
const (
	// ContextName indexes spec.browserSettings.context.name: the BrowserContext a session names.
	ContextName = "spec.browserSettings.context.name"
	// ContextID indexes spec.browserSettings.context.id: the Browserbase context id a session
	// gives directly. The index lives in the manager's memory, as the sessions it indexes do.
	ContextID = "spec.browserSettings.context.id"
	// Project indexes the project a session uses: project.Ref.IndexValue of spec.projectRef, or
	// DefaultProject for a session that names neither a project nor a key (it uses the default
	// ClusterBrowserbaseProject when there is one).
	Project = "spec.projectRef"
)

// DefaultProject is the Project index value of sessions that name neither a project nor a key.
const DefaultProject = "default"

var registered sync.Map // client.FieldIndexer → *registration

type registration struct {
	once sync.Once
	err  error
}

// Register adds the ContextName, ContextID and Project indexes to indexer (a manager's
// GetFieldIndexer), once.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	v, _ := registered.LoadOrStore(indexer, &registration{})
	reg := v.(*registration)
	reg.once.Do(func() {
		if reg.err = indexer.IndexField(ctx, &v1alpha1.BrowserSession{}, ContextName, IndexFunc); reg.err != nil {
			return
		}
		if reg.err = indexer.IndexField(ctx, &v1alpha1.BrowserSession{}, ContextID, IDIndexFunc); reg.err != nil {
			return
		}
		reg.err = indexer.IndexField(ctx, &v1alpha1.BrowserSession{}, Project, ProjectIndexFunc)
	})
	return reg.err
}

// IndexFunc is the index function of ContextName, for fake clients' WithIndex too.
func IndexFunc(obj client.Object) []string { return nonEmpty(NamedContext(obj)) }

// ProjectIndexFunc is the index function of Project, for fake clients' WithIndex too.
func ProjectIndexFunc(obj client.Object) []string {
	bs, ok := obj.(*v1alpha1.BrowserSession)
	switch {
	case !ok:
		return nil
	case bs.Spec.ProjectRef != nil:
		return []string{project.RefOf(bs.Namespace, bs.Spec.ProjectRef).IndexValue()}
	case bs.Spec.APIKeySecretRef == nil:
		return []string{DefaultProject}
	}
	return nil
}

// IDIndexFunc is the index function of ContextID, for fake clients' WithIndex too.
func IDIndexFunc(obj client.Object) []string { return nonEmpty(ContextIDOf(obj)) }

// NamedContext is the BrowserContext a BrowserSession names, "" for none (or another object).
func NamedContext(obj client.Object) string {
	if ref := contextRef(obj); ref != nil {
		return ref.Name
	}
	return ""
}

// ContextIDOf is the context id a BrowserSession gives directly, "" for none (or another
// object).
func ContextIDOf(obj client.Object) string {
	if ref := contextRef(obj); ref != nil {
		return ref.ID
	}
	return ""
}

func contextRef(obj client.Object) *v1alpha1.ContextReference {
	bs, ok := obj.(*v1alpha1.BrowserSession)
	if !ok || bs.Spec.BrowserSettings == nil {
		return nil
	}
	return bs.Spec.BrowserSettings.Context
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
