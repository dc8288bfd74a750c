package project

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/queue"
)

// A Ref names a project object: a BrowserbaseProject in a namespace, or a ClusterBrowserbaseProject.
type Ref struct {
	Kind      string
	Namespace string
	Name      string
}

// RefOf is the project a BrowserSession in namespace names with ref.
func RefOf(namespace string, ref *v1alpha1.ProjectReference) Ref {
	if ref.Kind == v1alpha1.KindClusterBrowserbaseProject {
		return Ref{Kind: v1alpha1.KindClusterBrowserbaseProject, Name: ref.Name}
	}
	return Ref{Kind: v1alpha1.KindBrowserbaseProject, Namespace: namespace, Name: ref.Name}
}

// String is "BrowserbaseProject ns/name" or "ClusterBrowserbaseProject name", for messages.
func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Queue is the project's create queue.
func (r Ref) Queue() queue.Key {
	if r.Namespace == "" {
		return queue.Key(r.Kind + "/" + r.Name)
	}
	return queue.Key(r.Kind + "/" + r.Namespace + "/" + r.Name)
}

// IndexValue is the value of the sessionindex.Project index for sessions naming r.
func (r Ref) IndexValue() string { return string(r.Queue()) }

// KeyQueue is the create queue of resources that use a key directly (an apiKeySecretRef, or the
// operator's default key): one per key, named by a short hash that tells keys apart without
// revealing them.
func KeyQueue(key browserbase.Sensitive) queue.Key {
	sum := sha256.Sum256([]byte(key.Reveal()))
	return queue.Key("key:" + hex.EncodeToString(sum[:4]))
}

// An Entry is what the project controller last learned of a project object.
type Entry struct {
	Ref Ref
	// Key is the project's API key, read from its Secret.
	Key browserbase.Sensitive
	// ProjectID is the Browserbase project id, given or found.
	ProjectID string
	// Defaults apply to the project's sessions where their spec leaves a field empty.
	Defaults *v1alpha1.SessionDefaults
	// DefaultTimeout is the project's default session lifetime in seconds, as Browserbase reports it.
	DefaultTimeout int32
	// Shares, when not nil, are the namespaces that may use the project (a cluster project's
	// namespaceShares), with their caps (0: none).
	Shares map[string]int
	// Limits are what the project's queue admits creates within.
	Limits queue.Limits
	// Ready says that the key was read and Browserbase accepted it; Message says why not.
	Ready   bool
	Message string
}

// Registry holds the Entry of every project object the project controller has reconciled.
type Registry struct {
	mu      sync.RWMutex
	entries map[Ref]Entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{entries: map[Ref]Entry{}} }

// Set records e.
func (g *Registry) Set(e Entry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entries[e.Ref] = e
}

// Delete forgets the project ref.
func (g *Registry) Delete(ref Ref) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.entries, ref)
}

// Get returns ref's entry, if the project controller has reconciled it.
func (g *Registry) Get(ref Ref) (Entry, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	e, ok := g.entries[ref]
	return e, ok
}

// Allows reports whether namespace may use the project, and why not.
func (e Entry) Allows(namespace string) error {
	if e.Shares == nil {
		return nil
	}
	if _, ok := e.Shares[namespace]; ok {
		return nil
	}
	return fmt.Errorf("namespace %q is not in spec.namespaceShares of %s: add it there, or name another project", namespace, e.Ref)
}
