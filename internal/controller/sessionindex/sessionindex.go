// Package sessionindex is the cache index of BrowserSessions by the BrowserContext they name,
// which both controllers use: a BrowserContext that turns Ready wakes the sessions waiting for it,
// and one being deleted finds the sessions that still use it. A manager accepts each index once,
// so Register registers it once per manager, whichever controller is set up first.
package sessionindex

import (
	"context"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// ContextName is the index field: spec.browserSettings.context.name.
const ContextName = "spec.browserSettings.context.name"

var registered sync.Map // client.FieldIndexer → *registration

type registration struct {
	once sync.Once
	err  error
}

// Register adds the ContextName index to indexer (a manager's GetFieldIndexer), once.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	v, _ := registered.LoadOrStore(indexer, &registration{})
	reg := v.(*registration)
	reg.once.Do(func() {
		reg.err = indexer.IndexField(ctx, &v1alpha1.BrowserSession{}, ContextName, IndexFunc)
	})
	return reg.err
}

// IndexFunc is the index function of ContextName, for fake clients' WithIndex too.
func IndexFunc(obj client.Object) []string {
	if name := NamedContext(obj); name != "" {
		return []string{name}
	}
	return nil
}

// NamedContext is the BrowserContext a BrowserSession names, "" for none (or another object).
func NamedContext(obj client.Object) string {
	bs, ok := obj.(*v1alpha1.BrowserSession)
	if !ok || bs.Spec.BrowserSettings == nil || bs.Spec.BrowserSettings.Context == nil {
		return ""
	}
	return bs.Spec.BrowserSettings.Context.Name
}
