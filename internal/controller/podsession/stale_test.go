package podsession

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
)

// A Pod's BrowserSession is deleted as soon as it no longer serves a running Pod, which releases
// the Browserbase session; no garbage collector is needed.
func TestDeleteStale(t *testing.T) {
	template := newTemplate("web", 600)
	running := newPod("web-1", "uid-1", "web", "web-1-session")
	mine := sessionFor(running, template)
	with := func(change func(*corev1.Pod)) *corev1.Pod {
		pod := running.DeepCopy()
		change(pod)
		return pod
	}
	deleting := metav1.NewTime(controllertest.Now)

	tests := []struct {
		name string
		pod  *corev1.Pod // nil: gone
		// wantUID is the pod-uid label of web-1-session after the pass ("": there is none).
		wantUID   string
		wantEvent string
	}{
		{name: "running: kept", pod: running, wantUID: "uid-1"},
		{name: "succeeded", pod: with(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), wantEvent: ReasonSessionDeleted},
		{name: "failed", pod: with(func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }), wantEvent: ReasonSessionDeleted},
		{name: "being deleted", pod: with(func(p *corev1.Pod) {
			p.DeletionTimestamp, p.Finalizers = &deleting, []string{"example.com/keep"}
		}), wantEvent: ReasonSessionDeleted},
		{name: "gone"},
		{name: "no longer opted in (out of the cache)", pod: with(func(p *corev1.Pod) { delete(p.Labels, v1alpha1.LabelSessionTemplate) })},
		// The earlier Pod's session goes, and the new Pod gets its own under the same name.
		{name: "re-created under the same name", pod: with(func(p *corev1.Pod) { p.UID = "uid-2" }),
			wantUID: "uid-2", wantEvent: ReasonSessionDeleted},
		{name: "annotation changed", pod: with(func(p *corev1.Pod) { p.Annotations[v1alpha1.AnnotationSessionSecret] = "other" }),
			wantEvent: ReasonSessionDeleted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := []client.Object{template, mine.DeepCopy()}
			if tc.pod != nil {
				objs = append(objs, tc.pod)
			}
			c := newFakeClient(interceptor.Funcs{}, objs...)
			r, events := newReconciler(c)
			reconcilePod(t, r, "web-1")

			got, ok := sessions(t, c)["web-1-session"]
			if ok != (tc.wantUID != "") || ok && got.Labels[v1alpha1.LabelPodUID] != tc.wantUID {
				t.Errorf("web-1-session exists = %v (pod-uid %q), want pod-uid %q", ok, got.Labels[v1alpha1.LabelPodUID], tc.wantUID)
			}
			if reasons := events.Reasons(); tc.wantEvent != "" && !slices.Contains(reasons, tc.wantEvent) {
				t.Errorf("events = %v, want %q", reasons, tc.wantEvent)
			}
		})
	}
}

// Only the operator's sessions of that Pod name are deleted: not one someone else made and gave
// the Pod as owner, nor another Pod's.
func TestDeleteStaleLeavesOthers(t *testing.T) {
	template := newTemplate("web", 600)
	ended := newPod("web-1", "uid-1", "web", "web-1-session")
	ended.Status.Phase = corev1.PodSucceeded
	unlabelled := sessionFor(ended, template)
	unlabelled.Name = "hand-made"
	unlabelled.Labels = nil
	other := newPod("web-2", "uid-2", "web", "web-2-session")
	c := newFakeClient(interceptor.Funcs{}, template, ended, unlabelled, other, sessionFor(other, template))
	r, _ := newReconciler(c)
	reconcilePod(t, r, "web-1")

	got := sessions(t, c)
	for _, name := range []string{"hand-made", "web-2-session"} {
		if bs, ok := got[name]; !ok || !bs.DeletionTimestamp.IsZero() {
			t.Errorf("%s must be left alone", name)
		}
	}
}
