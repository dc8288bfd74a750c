// Package operator holds what every controller of the operator shares about the objects it
// writes and caches: the field owner of its writes, the label on its Secrets, and what the
// manager's cache holds. No controller package imports another; they all import this one.
package operator

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// ManagedByLabel marks the Secrets the operator writes. The manager caches only Secrets with
// this label, so it never holds every Secret of the cluster in memory.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "browserbase-session-operator"
)

// CacheOptions restricts the manager's Secret cache to the Secrets the operator writes (API-key
// and proxy-password Secrets are read through the APIReader instead), its Pod cache to the Pods
// that opt in to a session of their own, and keeps out of the cache what the operator never
// reads: memory then grows with the BrowserSessions and their Pods, not the cluster.
// With namespaces, the cache (and so the reconciler) sees only those: installs that split a
// cluster between them do not reconcile the same resources, and need list and watch on Secrets
// in those namespaces only.
func CacheOptions(namespaces ...string) cache.Options {
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})},
			&corev1.Pod{}:    {Label: optedInPods, Transform: stripPod},
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

// optedInPods selects the Pods labelled browserbase.io/session-template, whatever the template:
// the only Pods the operator reads.
var optedInPods = func() labels.Selector {
	req, err := labels.NewRequirement(v1alpha1.LabelSessionTemplate, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant key: cannot fail
	}
	return labels.NewSelector().Add(*req)
}()

// stripPod keeps of a Pod only what the Pod controller reads: its identity, labels and
// annotations, whether it is being deleted, and its phase. A Pod's spec and container statuses
// are most of its size, and change often while it starts.
func stripPod(in any) (any, error) {
	pod, ok := in.(*corev1.Pod)
	if !ok {
		return in, nil // a tombstone: nothing to strip
	}
	annotations := pod.Annotations
	if annotations[corev1.LastAppliedConfigAnnotation] != "" {
		annotations = maps.Clone(annotations)
		delete(annotations, corev1.LastAppliedConfigAnnotation)
	}
	return &corev1.Pod{
		TypeMeta: pod.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              pod.Name,
			Namespace:         pod.Namespace,
			UID:               pod.UID,
			ResourceVersion:   pod.ResourceVersion,
			Generation:        pod.Generation,
			CreationTimestamp: pod.CreationTimestamp,
			DeletionTimestamp: pod.DeletionTimestamp,
			Labels:            pod.Labels,
			Annotations:       annotations,
		},
		Status: corev1.PodStatus{Phase: pod.Status.Phase},
	}, nil
}

// FieldOwner is the operator's field manager name for the objects it writes.
const FieldOwner = client.FieldOwner("browserbase-session-operator")
