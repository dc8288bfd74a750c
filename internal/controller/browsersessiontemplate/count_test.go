package browsersessiontemplate

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
)

// A template's status counts its own sessions by state, and says it is accepted.
func TestReconcileCounts(t *testing.T) {
	deleting := sessionOf("releasing", "web", v1alpha1.ConditionReady)
	now := metav1.NewTime(controllertest.Now)
	deleting.DeletionTimestamp, deleting.Finalizers = &now, []string{v1alpha1.Finalizer}
	otherNamespace := sessionOf("elsewhere", "web", v1alpha1.ConditionReady)
	otherNamespace.Namespace = "other"

	for name, tc := range map[string]struct {
		sessions []client.Object
		want     v1alpha1.SessionCounts
	}{
		"none": {},
		"by state": {sessions: []client.Object{
			sessionOf("a", "web", v1alpha1.ConditionReady),
			sessionOf("b", "web", v1alpha1.ConditionReady),
			sessionOf("c", "web", v1alpha1.ConditionStalled),
			sessionOf("d", "web", v1alpha1.ConditionReconciling),
			sessionOf("e", "web"),
		}, want: v1alpha1.SessionCounts{Ready: 2, Failed: 1, Pending: 2}},
		"only its own, and not those being deleted": {sessions: []client.Object{
			sessionOf("a", "web", v1alpha1.ConditionReady),
			sessionOf("other-template", "api", v1alpha1.ConditionReady),
			sessionOf("no-template", "", v1alpha1.ConditionReady),
			otherNamespace, deleting,
		}, want: v1alpha1.SessionCounts{Ready: 1}},
	} {
		t.Run(name, func(t *testing.T) {
			tpl := newTemplate("web")
			c := newFakeClient(interceptor.Funcs{}, append(tc.sessions, tpl)...)
			reconcileTemplate(t, newReconciler(c), "web")

			controllertest.MustGet(t, c, tpl)
			if tpl.Status.Sessions != tc.want {
				t.Errorf("sessions = %+v, want %+v", tpl.Status.Sessions, tc.want)
			}
			if tpl.Status.ObservedGeneration != 2 {
				t.Errorf("observedGeneration = %d, want 2", tpl.Status.ObservedGeneration)
			}
			ready := meta.FindStatusCondition(tpl.Status.Conditions, v1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != ReasonTemplateAccepted {
				t.Errorf("Ready = %+v, want True %s", ready, ReasonTemplateAccepted)
			}
		})
	}
}

// Sessions that change without changing the counts cost no write.
func TestReconcileWritesOnlyChanges(t *testing.T) {
	writes := 0
	c := newFakeClient(interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			writes++
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}, newTemplate("web"), sessionOf("a", "web", v1alpha1.ConditionReady))
	r := newReconciler(c)
	reconcileTemplate(t, r, "web")
	reconcileTemplate(t, r, "web")
	if writes != 1 {
		t.Errorf("status writes = %d, want 1: the second pass changed nothing", writes)
	}
}

// A template that is gone is nothing to do.
func TestReconcileGone(t *testing.T) {
	reconcileTemplate(t, newReconciler(newFakeClient(interceptor.Funcs{})), "web")
}
