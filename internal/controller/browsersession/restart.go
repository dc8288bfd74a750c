package browsersession

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/operator"
)

// restartTargets is the step that sets the session's revision on the pod templates of
// spec.renewal.restartTargets, so that workloads reading the Secret through environment variables
// restart onto a renewed session. The first session needs no restart.
//
// Rolling a workload is the namespace owner's decision, not the BrowserSession author's: a target
// is read first and restarted only when its annotation browserbase.io/restart-on-renewal names
// this BrowserSession; the read and the patch are tied by a resourceVersion precondition, so an
// opt-in withdrawn in between is honoured. The rights to do this are not in the default install
// (a 403 asks for them). A target that already carries the revision is not written, so a target
// restarts once per revision, also across operator restarts.
//
// r.restarted holds the revision whose targets are all settled (restarted, or missing: a workload
// made later reads the Secret as it is), or its negative while some are not: refusals (no opt-in,
// no rights) were then reported once, and later passes retry them quietly (a refusal schedules no
// pass of its own), so that a fix takes effect without waiting for the next renewal; other errors
// are reported at each try. None of this fails the pass: the session is fine.
func (r *Reconciler) restartTargets(ctx context.Context, p *pass) error {
	bs := p.bs
	if !p.live() || bs.Spec.Renewal == nil || bs.Status.Revision < 2 {
		return nil
	}
	revision := bs.Status.Revision
	done, _ := r.restarted.Get(bs.UID)
	if done == revision {
		return nil
	}
	reported := done == -revision
	settled := true
	var forbidden []string
	for _, t := range bs.Spec.Renewal.RestartTargets {
		outcome, err := r.restartTarget(ctx, bs, t)
		switch outcome {
		case targetRestarted, targetSkipped:
		case targetMissing:
			if !reported {
				r.Event(bs, corev1.EventTypeWarning, "RestartFailed", "Renew", "%s %s, a restart target, does not exist", t.Kind, t.Name)
			}
		case targetRefused:
			settled = false
			if !reported {
				r.Event(bs, corev1.EventTypeWarning, "RestartRefused", "Renew",
					"%s %s is not restarted onto session revision %d: it does not opt in. Add %s to its annotation %s (a comma-separated list of BrowserSession names)",
					t.Kind, t.Name, revision, bs.Name, v1alpha1.AnnotationRestartOnRenewal)
			}
		case targetForbidden:
			settled = false
			forbidden = append(forbidden, t.Kind+" "+t.Name)
		default:
			settled = false
			p.restartFailed = true
			log.FromContext(ctx).Error(err, "Could not restart a workload onto the renewed session", "kind", t.Kind, "name", t.Name)
			r.Event(bs, corev1.EventTypeWarning, "RestartFailed", "Renew", "Could not restart %s %s onto session revision %d: %v", t.Kind, t.Name, revision, err)
		}
	}
	if len(forbidden) > 0 && !reported {
		list := strings.Join(forbidden, ", ")
		log.FromContext(ctx).Info("The operator may not read or patch restart targets; enable restartTargets.enabled in the Helm chart or the kustomize component config/components/restart-targets", "targets", list)
		r.Event(bs, corev1.EventTypeWarning, "RestartForbidden", "Renew",
			"The operator may not read or patch %s, so it cannot restart them onto session revision %d: install its rights on Deployments and StatefulSets with the Helm value restartTargets.enabled=true or the kustomize component config/components/restart-targets",
			list, revision)
	}
	if settled {
		r.restarted.Set(bs.UID, revision)
	} else {
		r.restarted.Set(bs.UID, -revision)
	}
	return nil
}

// targetOutcome is what became of one restart target in a pass.
type targetOutcome int

const (
	// targetFailed: an error worth retrying, reported each time.
	targetFailed targetOutcome = iota
	// targetRestarted: its pod template carries the revision (set now, or already).
	targetRestarted
	// targetMissing: there is no such workload.
	targetMissing
	// targetRefused: the workload does not name this BrowserSession in its opt-in annotation.
	targetRefused
	// targetForbidden: the operator has no rights to read or patch it.
	targetForbidden
	// targetSkipped: a kind the operator does not restart (the CRD's enum refuses it).
	targetSkipped
)

// restartTarget reads one target through the API reader (the cache would watch every workload of
// the cluster, and need list and watch on them) and, when it opts in, patches the revision onto
// its pod template.
func (r *Reconciler) restartTarget(ctx context.Context, bs *v1alpha1.BrowserSession, t v1alpha1.RestartTarget) (targetOutcome, error) {
	if obj, _ := workload(t.Kind); obj == nil {
		return targetSkipped, nil
	}
	revision := fmt.Sprint(bs.Status.Revision)
	outcome := targetFailed
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, template := workload(t.Kind)
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: bs.Namespace, Name: t.Name}, obj); err != nil {
			return err
		}
		if !optedIn(obj.GetAnnotations(), bs.Name) {
			outcome = targetRefused
			return nil
		}
		if template().Annotations[v1alpha1.AnnotationSessionRevision] == revision {
			outcome = targetRestarted
			return nil
		}
		// The resourceVersion makes the patch apply only to the object whose opt-in was read.
		patch := fmt.Appendf(nil, `{"metadata":{"resourceVersion":%q},"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`,
			obj.GetResourceVersion(), v1alpha1.AnnotationSessionRevision, revision)
		if err := r.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), operator.FieldOwner); err != nil {
			return err
		}
		outcome = targetRestarted
		return nil
	})
	switch {
	case apierrors.IsNotFound(err):
		return targetMissing, nil
	case apierrors.IsForbidden(err):
		return targetForbidden, err
	case err != nil:
		return targetFailed, err
	}
	return outcome, nil
}

// workload returns an empty object of a restart target's kind and a reader of its pod template;
// nil for a kind the operator does not restart.
func workload(kind string) (client.Object, func() *corev1.PodTemplateSpec) {
	switch kind {
	case "Deployment":
		d := &appsv1.Deployment{}
		return d, func() *corev1.PodTemplateSpec { return &d.Spec.Template }
	case "StatefulSet":
		s := &appsv1.StatefulSet{}
		return s, func() *corev1.PodTemplateSpec { return &s.Spec.Template }
	}
	return nil, nil
}

// optedIn says whether a workload's annotation browserbase.io/restart-on-renewal names the
// BrowserSession.
func optedIn(annotations map[string]string, name string) bool {
	for n := range strings.SplitSeq(annotations[v1alpha1.AnnotationRestartOnRenewal], ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}
