package operator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

func TestStripUnread(t *testing.T) {
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{
		Name:          "s",
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"apiVersion":"browserbase.io/v1alpha1"}`,
			v1alpha1.AnnotationSkipRelease:     "true",
		},
	}}
	shared := bs.Annotations
	out, err := stripUnread(bs)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*v1alpha1.BrowserSession)
	if got.ManagedFields != nil {
		t.Errorf("managedFields kept: %v", got.ManagedFields)
	}
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied-configuration kept")
	}
	if got.Annotations[v1alpha1.AnnotationSkipRelease] != "true" {
		t.Errorf("annotations the operator reads must stay: %v", got.Annotations)
	}
	if _, ok := shared[corev1.LastAppliedConfigAnnotation]; !ok {
		t.Error("the annotation map given in was changed in place")
	}

	tombstone := toolscache.DeletedFinalStateUnknown{Key: "ns/s"}
	if out, err := stripUnread(tombstone); err != nil || out != tombstone {
		t.Errorf("a tombstone must pass through: %v, %v", out, err)
	}
}

// Installs that split a cluster with --watch-namespaces see only their namespaces.
func TestCacheOptionsNamespaces(t *testing.T) {
	if opts := CacheOptions(); opts.DefaultNamespaces != nil {
		t.Errorf("without namespaces the cache is cluster-wide, got %v", opts.DefaultNamespaces)
	}
	opts := CacheOptions("team-a", "team-b")
	if len(opts.DefaultNamespaces) != 2 {
		t.Fatalf("DefaultNamespaces = %v, want team-a and team-b", opts.DefaultNamespaces)
	}
	for _, ns := range []string{"team-a", "team-b"} {
		if _, ok := opts.DefaultNamespaces[ns]; !ok {
			t.Errorf("namespace %s is not watched", ns)
		}
	}
}
