package browsersessiontemplate

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// The template of a session is looked at again when the session changes what it counts as.
func TestStateChanged(t *testing.T) {
	pending := sessionOf("a", "web")
	stillPending := pending.DeepCopy()
	stillPending.Status.ID = "sess-1"
	if stateChanged.Update(event.UpdateEvent{ObjectOld: pending, ObjectNew: stillPending}) {
		t.Error("a status write that changes no count must not recount")
	}
	for name, newer := range map[string]*v1alpha1.BrowserSession{
		"ready":        sessionOf("a", "web", v1alpha1.ConditionReady),
		"stalled":      sessionOf("a", "web", v1alpha1.ConditionStalled),
		"new template": sessionOf("a", "api"),
	} {
		if !stateChanged.Update(event.UpdateEvent{ObjectOld: pending, ObjectNew: newer}) {
			t.Errorf("%s: must recount", name)
		}
	}
	requests := templateOf(context.Background(), pending)
	if len(requests) != 1 || requests[0].Name != "web" || requests[0].Namespace != testNamespace {
		t.Errorf("requests = %v, want ns/web", requests)
	}
	if templateOf(context.Background(), sessionOf("b", "")) != nil {
		t.Error("a session of no template maps to none")
	}
}
