package operator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

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

// The manager holds only opted-in Pods, and of them only what the Pod controller reads.
func TestCacheOptionsPods(t *testing.T) {
	var byPod cache.ByObject
	ok := false
	for obj, by := range CacheOptions().ByObject { // keyed by pointer: found by type
		if _, isPod := obj.(*corev1.Pod); isPod {
			byPod, ok = by, true
		}
	}
	if !ok {
		t.Fatal("no cache options for Pods")
	}
	for set, want := range map[string]bool{
		v1alpha1.LabelSessionTemplate + "=web": true,
		v1alpha1.LabelSessionTemplate + "=":    true,
		"app=web":                              false,
	} {
		sel, err := labels.ConvertSelectorToLabelsMap(set)
		if err != nil {
			t.Fatal(err)
		}
		if got := byPod.Label.Matches(sel); got != want {
			t.Errorf("Pod labelled %q cached = %v, want %v", set, got, want)
		}
	}

	now := metav1.Now()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0", Namespace: "ns", UID: "uid-1", ResourceVersion: "7", DeletionTimestamp: &now,
			Labels: map[string]string{v1alpha1.LabelSessionTemplate: "web"},
			Annotations: map[string]string{
				v1alpha1.AnnotationSessionSecret:   "web-0-session",
				corev1.LastAppliedConfigAnnotation: "{}",
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "app"}}},
	}
	out, err := byPod.Transform(pod)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Pod)
	if got.Name != "web-0" || got.Namespace != "ns" || got.UID != "uid-1" || got.ResourceVersion != "7" ||
		got.DeletionTimestamp == nil || got.Status.Phase != corev1.PodSucceeded ||
		got.Labels[v1alpha1.LabelSessionTemplate] != "web" || got.Annotations[v1alpha1.AnnotationSessionSecret] != "web-0-session" {
		t.Errorf("the fields the Pod controller reads must stay: %+v", got)
	}
	if len(got.Spec.Containers) != 0 || got.Status.ContainerStatuses != nil || got.ManagedFields != nil {
		t.Errorf("spec, container statuses and managedFields must go: %+v", got)
	}
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied-configuration kept")
	}
	if _, ok := pod.Annotations[corev1.LastAppliedConfigAnnotation]; !ok {
		t.Error("the annotation map given in was changed in place")
	}
	tombstone := toolscache.DeletedFinalStateUnknown{Key: "ns/web-0"}
	if out, err := byPod.Transform(tombstone); err != nil || out != tombstone {
		t.Errorf("a tombstone must pass through: %v, %v", out, err)
	}
}
