package browsersessiontemplate

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// ReasonTemplateAccepted is the reason of a template's Ready condition: the operator has seen
// it, and makes sessions from it for the Pods that name it.
const ReasonTemplateAccepted = "TemplateAccepted"

// Reconciler reports on BrowserSessionTemplates: Ready, and their sessions by state.
type Reconciler struct {
	client.Client
	// Kit holds the event recorder and the clock.
	reconcile.Kit
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int

	// memory is Fetch's bookkeeping; the reconciler remembers nothing else between passes.
	memory reconcile.Memory
}

// Templates are only read and their status patched; BrowserSessions are listed to count them.
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessiontemplates,verbs=get;list;watch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessiontemplates/status,verbs=get;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile counts the template's sessions and marks it Ready. Status is written once, at the
// end, and only when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	tpl := &v1alpha1.BrowserSessionTemplate{}
	if found, err := r.memory.Fetch(ctx, r.Client, req, tpl); !found {
		return ctrl.Result{}, err
	}
	before := tpl.DeepCopy()
	defer func() {
		result, retErr = r.FinalizeStatus(ctx, r.Client, before, tpl, result, retErr, nil)
	}()

	counts, err := r.countSessions(ctx, tpl)
	if err != nil {
		return ctrl.Result{}, err
	}
	tpl.Status.Sessions = counts
	reconcile.MarkReady(tpl, ReasonTemplateAccepted, fmt.Sprintf(
		"Pods labelled %s=%s get a BrowserSession of their own from this template", v1alpha1.LabelSessionTemplate, tpl.Name))
	return ctrl.Result{}, nil
}
