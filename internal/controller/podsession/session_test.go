package podsession

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// A running Pod gets one BrowserSession, named by its annotation, from its template's spec, and
// nothing is created when something stands in the way; each case says so on the Pod.
func TestEnsureSession(t *testing.T) {
	pod := newPod("web-1", "uid-1", "web", "web-1-session")
	template := newTemplate("web", 600)
	noAnnotation := newPod("web-1", "uid-1", "web", "")
	othersSession := &v1alpha1.BrowserSession{}
	othersSession.Namespace, othersSession.Name = testNamespace, "web-1-session"
	oldPods := sessionFor(newPod("web-1", "uid-0", "web", "web-1-session"), template)
	oldPods.Finalizers = []string{v1alpha1.Finalizer} // still releasing: the delete waits
	mine := sessionFor(pod, newTemplate("web", 60))
	isController := true
	leftOver := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Namespace: testNamespace, Name: "web-1-session",
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: "BrowserSession", Name: "web-1-session", UID: "gone", Controller: &isController,
		}},
	}}
	someonesSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "web-1-session"}}

	tests := []struct {
		name string
		objs []client.Object
		// wantTimeout is the timeout of the Pod's BrowserSession after the pass (nil: it has none).
		wantTimeout *int32
		wantEvent   string
		// othersKept: web-1-session is someone else's, and stays theirs.
		othersKept bool
	}{
		{name: "created from the template", objs: []client.Object{pod, template},
			wantTimeout: template.Spec.Template.Timeout, wantEvent: ReasonSessionCreated},
		{name: "no template: nothing created", objs: []client.Object{pod}, wantEvent: ReasonTemplateNotFound},
		{name: "no annotation: nothing created", objs: []client.Object{noAnnotation, template}, wantEvent: ReasonSecretNotAnnotated},
		{name: "name taken by someone else's", objs: []client.Object{pod, template, othersSession}, wantEvent: ReasonSessionNameTaken,
			othersKept: true},
		{name: "an earlier session's Secret is still there: waits", objs: []client.Object{pod, template, leftOver},
			wantEvent: ReasonSecretLeftOver},
		// The BrowserSession controller reports that conflict, on the BrowserSession.
		{name: "someone else's Secret under the name", objs: []client.Object{pod, template, someonesSecret},
			wantTimeout: template.Spec.Template.Timeout, wantEvent: ReasonSessionCreated},
		{name: "its own is kept as it is, not updated from the template", objs: []client.Object{pod, template, mine},
			wantTimeout: mine.Spec.Timeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClient(interceptor.Funcs{}, tc.objs...)
			r, events := newReconciler(c)
			reconcilePod(t, r, "web-1")

			got, ok := sessions(t, c)["web-1-session"]
			switch {
			case tc.othersKept:
				if !ok || len(got.OwnerReferences) != 0 || !got.DeletionTimestamp.IsZero() {
					t.Errorf("someone else's BrowserSession must be left alone: %+v", got.ObjectMeta)
				}
			case ok != (tc.wantTimeout != nil):
				t.Fatalf("BrowserSession exists = %v, want %v", ok, tc.wantTimeout != nil)
			case ok && *got.Spec.Timeout != *tc.wantTimeout:
				t.Errorf("timeout = %d, want %d", *got.Spec.Timeout, *tc.wantTimeout)
			}
			if reasons := events.Reasons(); tc.wantEvent == "" && len(reasons) > 0 || tc.wantEvent != "" && !slices.Contains(reasons, tc.wantEvent) {
				t.Errorf("events = %v, want %q", reasons, tc.wantEvent)
			}
		})
	}

	t.Run("an earlier Pod's session under the name is waited for", func(t *testing.T) {
		c := newFakeClient(interceptor.Funcs{}, pod, template, oldPods)
		r, _ := newReconciler(c)
		reconcilePod(t, r, "web-1")
		got := sessions(t, c)["web-1-session"]
		if got.DeletionTimestamp.IsZero() || got.Labels[v1alpha1.LabelPodUID] != "uid-0" {
			t.Errorf("the earlier Pod's session must be deleted, and no new one made meanwhile: %+v", got.ObjectMeta)
		}
	})
}

// The BrowserSession is what the BrowserSession controller and the users rely on: the
// template's spec with the Pod's Secret, labels that find it by Pod and template, and an owner
// reference to the Pod that neither controls it nor blocks the Pod's deletion.
func TestNewSession(t *testing.T) {
	pod := newPod("web-1", "uid-1", "web", "web-1-session")
	template := newTemplate("web", 600)
	template.Spec.Template.Metadata = map[string]string{"team": "a"}
	bs := newSession(pod, template, "web-1-session")

	want := template.Spec.Template.DeepCopy()
	want.SecretName = "web-1-session"
	if !equality.Semantic.DeepEqual(bs.Spec, *want) {
		t.Errorf("spec = %+v, want %+v", bs.Spec, *want)
	}
	if template.Spec.Template.SecretName != "" {
		t.Error("the template was changed")
	}
	if bs.Namespace != testNamespace || bs.Name != "web-1-session" {
		t.Errorf("name = %s/%s", bs.Namespace, bs.Name)
	}
	wantLabels := map[string]string{v1alpha1.LabelSessionTemplate: "web", v1alpha1.LabelPodName: "web-1", v1alpha1.LabelPodUID: "uid-1"}
	if !equality.Semantic.DeepEqual(bs.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", bs.Labels, wantLabels)
	}
	if len(bs.OwnerReferences) != 1 {
		t.Fatalf("owner references = %+v", bs.OwnerReferences)
	}
	ref := bs.OwnerReferences[0]
	if ref.APIVersion != "v1" || ref.Kind != "Pod" || ref.Name != "web-1" || ref.UID != "uid-1" ||
		ref.Controller == nil || *ref.Controller || ref.BlockOwnerDeletion == nil || *ref.BlockOwnerDeletion {
		t.Errorf("owner reference = %+v", ref)
	}
	if ownerPod(bs) != "web-1" {
		t.Errorf("ownerPod = %q: the index would not find it", ownerPod(bs))
	}

	long := newPod(strings.Repeat("p", 70), "uid-2", "web", "s")
	if got := newSession(long, template, "s"); got.Labels[v1alpha1.LabelPodName] != "" || ownerPod(got) != long.Name {
		t.Errorf("a Pod name too long for a label value is left out of the labels and found by owner: %v", got.Labels)
	}
}

// A create that fails for a reason other than the name or the object is retried.
func TestEnsureSessionCreateError(t *testing.T) {
	pod, template := newPod("web-1", "uid-1", "web", "web-1-session"), newTemplate("web", 600)
	c := newFakeClient(interceptor.Funcs{Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
		return apierrors.NewServiceUnavailable("etcd is down")
	}}, pod, template)
	r, events := newReconciler(c)
	_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(pod)})
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("err = %v, want the create's error, for a retry", err)
	}
	if len(events.All()) != 0 {
		t.Errorf("events = %v, want none for a transient failure", events.All())
	}
}
