// Package operator holds what every controller of the operator shares about the objects it
// writes and caches: the field owner of its writes, the label on its Secrets, and what the
// manager's cache holds. No controller package imports another; they all import this one.
package operator

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
// With namespaces, the cache (and so the reconciler) sees only those: installs that split a
// cluster between them do not reconcile the same resources, and need list and watch on Secrets
// in those namespaces only.
func CacheOptions(namespaces ...string) cache.Options {
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})},
		},
		DefaultTransform: stripUnread,
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// stripUnread drops managedFields, and the last-applied-configuration annotation that
// client-side kubectl apply leaves (a second copy of the manifest): together often more than
// half of a cached BrowserSession. Patches are computed between copies that both lack them, so
// they never touch them.
func stripUnread(in any) (any, error) {
	in, err := stripManagedFields(in)
	if err != nil {
		return in, err
	}
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil // a tombstone: nothing to strip
	}
	if a := obj.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
		a = maps.Clone(a)
		delete(a, corev1.LastAppliedConfigAnnotation)
		obj.SetAnnotations(a)
	}
	return in, nil
}

var stripManagedFields = cache.TransformStripManagedFields()

// FieldOwner is the operator's field manager name for the objects it writes.
const FieldOwner = client.FieldOwner("browserbase-session-operator")
