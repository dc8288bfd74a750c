package podsession

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
)

// A Pod is looked at again when what its session depends on changes, not on every status write.
func TestPodChanged(t *testing.T) {
	old := newPod("web-1", "uid-1", "web", "s")
	old.ResourceVersion = "1"
	now := metav1.NewTime(controllertest.Now)
	for name, tc := range map[string]struct {
		change func(*corev1.Pod)
		want   bool
	}{
		"container status only": {func(p *corev1.Pod) { p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app"}} }, false},
		"resync":                {func(p *corev1.Pod) { p.ResourceVersion = "1" }, true},
		"phase":                 {func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, true},
		"deletion":              {func(p *corev1.Pod) { p.DeletionTimestamp = &now }, true},
		"template label":        {func(p *corev1.Pod) { p.Labels[v1alpha1.LabelSessionTemplate] = "other" }, true},
		"session annotation":    {func(p *corev1.Pod) { p.Annotations[v1alpha1.AnnotationSessionSecret] = "other" }, true},
	} {
		updated := old.DeepCopy()
		updated.ResourceVersion = "2"
		tc.change(updated)
		if got := podChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: updated}); got != tc.want {
			t.Errorf("%s: reconcile = %v, want %v", name, got, tc.want)
		}
	}
}

// A BrowserSession brings back the Pod it was made for when it is being deleted (so the Pod's
// next session can be made), not on its status writes.
func TestSessionWatch(t *testing.T) {
	pod := newPod("web-1", "uid-1", "web", "s")
	bs := sessionFor(pod, newTemplate("web", 600))
	requests := podOfSession(context.Background(), bs)
	if len(requests) != 1 || requests[0].Name != "web-1" || requests[0].Namespace != testNamespace {
		t.Errorf("requests = %v, want ns/web-1", requests)
	}
	if got := podOfSession(context.Background(), &v1alpha1.BrowserSession{}); got != nil {
		t.Errorf("a BrowserSession made for no Pod maps to %v", got)
	}

	// A manager that starts sees every BrowserSession as created: the Pod of each is looked at,
	// so one deleted while no manager ran has its session deleted.
	if !sessionChanged.Create(event.CreateEvent{Object: bs}) {
		t.Error("a BrowserSession seen at start must bring its Pod back")
	}

	statusOnly := bs.DeepCopy()
	statusOnly.Status.ID = "sess-1"
	if sessionChanged.Update(event.UpdateEvent{ObjectOld: bs, ObjectNew: statusOnly}) {
		t.Error("a status write must not bring the Pod back")
	}
	now := metav1.NewTime(controllertest.Now)
	deleting := bs.DeepCopy()
	deleting.DeletionTimestamp = &now
	if !sessionChanged.Update(event.UpdateEvent{ObjectOld: bs, ObjectNew: deleting}) {
		t.Error("a deletion must bring the Pod back")
	}
}

// A template that appears brings back the Pods that name it, which got no session without it.
func TestPodsOfTemplate(t *testing.T) {
	waiting, other := newPod("web-1", "uid-1", "web", "s1"), newPod("api-1", "uid-2", "api", "s2")
	r, _ := newReconciler(newFakeClient(interceptor.Funcs{}, waiting, other))
	requests := r.podsOfTemplate(context.Background(), newTemplate("web", 600))
	if len(requests) != 1 || requests[0].Name != "web-1" {
		t.Errorf("requests = %v, want web-1 only", requests)
	}
}
