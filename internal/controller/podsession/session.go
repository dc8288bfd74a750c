package podsession

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/operator"
)

// leftOverRecheck is how often a Pod waiting for an earlier session's Secret to go looks again:
// the Secret's deletion brings back its owner, not the Pod.
const leftOverRecheck = 5 * time.Second

// takenRecheck is how often a Pod whose session name is held by someone else's BrowserSession
// looks again: nothing the operator watches says when that one goes.
const takenRecheck = time.Minute

// ensureSession makes sure the running pod has its BrowserSession, creating it from the
// template when it has none. An existing one is left as it is: a template's changes reach new
// Pods only.
func (r *Reconciler) ensureSession(ctx context.Context, pod *corev1.Pod, sessions []v1alpha1.BrowserSession) (ctrl.Result, error) {
	name := pod.Annotations[v1alpha1.AnnotationSessionSecret]
	if name == "" {
		// The webhook sets it on every opted-in Pod it admits: this Pod was admitted without
		// it (created before the webhook was installed, or with the webhook off).
		r.Event(pod, corev1.EventTypeWarning, ReasonSecretNotAnnotated, "CreateSession",
			"The Pod has label %s but no annotation %s, which the operator's admission webhook sets: no session is made. "+
				"Re-create the Pod with the webhook running", v1alpha1.LabelSessionTemplate, v1alpha1.AnnotationSessionSecret)
		return ctrl.Result{}, nil
	}
	for i := range sessions {
		if serves(&sessions[i], pod) {
			return ctrl.Result{}, nil
		}
	}

	existing := &v1alpha1.BrowserSession{}
	err := r.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: name}, existing)
	switch {
	case err == nil && ownerPod(existing) == pod.Name:
		// A session of an earlier Pod of this name, being deleted (deleteStale): its delete
		// event brings the Pod back, to make its own.
		return ctrl.Result{}, nil
	case err == nil:
		r.Event(pod, corev1.EventTypeWarning, ReasonSessionNameTaken, "CreateSession",
			"BrowserSession %s, named by annotation %s, exists and was not made for this Pod: no session is made while it stays",
			name, v1alpha1.AnnotationSessionSecret)
		return ctrl.Result{RequeueAfter: takenRecheck}, nil
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}

	if leftOver, err := r.secretLeftOver(ctx, pod.Namespace, name); err != nil || leftOver {
		if leftOver {
			r.Event(pod, corev1.EventTypeNormal, ReasonSecretLeftOver, "CreateSession",
				"Secret %s of an earlier BrowserSession of that name is still there: the session is made once the garbage collector "+
					"has deleted it", name)
		}
		return ctrl.Result{RequeueAfter: leftOverRecheck}, err
	}

	template := &v1alpha1.BrowserSessionTemplate{}
	templateName := pod.Labels[v1alpha1.LabelSessionTemplate]
	if err := r.getTemplate(ctx, pod.Namespace, templateName, template); apierrors.IsNotFound(err) {
		// The webhook refuses Pods whose template is missing, so it was deleted since: the Pod
		// gets its session when a template of that name appears (watch.go).
		r.Event(pod, corev1.EventTypeWarning, ReasonTemplateNotFound, "CreateSession",
			"BrowserSessionTemplate %q, named by label %s, does not exist in namespace %s: no session is made until it does",
			templateName, v1alpha1.LabelSessionTemplate, pod.Namespace)
		return ctrl.Result{}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.createSession(ctx, pod, newSession(pod, template, name))
}

// secretLeftOver says whether Secret name, in the cache, was written for a BrowserSession that is
// gone: the earlier session of a Pod re-created under the same name, whose Secret the garbage
// collector deletes after it. A new BrowserSession would find it taken (SecretConflict) and wait
// for a person; the Pod waits instead. A Secret of anyone else is left to that conflict.
func (r *Reconciler) secretLeftOver(ctx context.Context, namespace, name string) (bool, error) {
	secret := &metav1.PartialObjectMetadata{}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	owner := metav1.GetControllerOf(secret)
	return owner != nil && owner.APIVersion == v1alpha1.GroupVersion.String() && owner.Kind == "BrowserSession", nil
}

// getTemplate reads the template name from the cache; an empty name is not found.
func (r *Reconciler) getTemplate(ctx context.Context, namespace, name string, template *v1alpha1.BrowserSessionTemplate) error {
	if name == "" {
		return apierrors.NewNotFound(v1alpha1.GroupVersion.WithResource("browsersessiontemplates").GroupResource(), name)
	}
	return r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, template)
}

// createSession creates bs for pod. A name taken meanwhile is found by the next pass; a
// BrowserSession the API server refuses (an invalid name in the annotation) is reported on the
// Pod rather than retried, since it would be refused again.
func (r *Reconciler) createSession(ctx context.Context, pod *corev1.Pod, bs *v1alpha1.BrowserSession) error {
	err := r.Create(ctx, bs, operator.FieldOwner)
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsInvalid(err):
		r.Event(pod, corev1.EventTypeWarning, ReasonSessionInvalid, "CreateSession",
			"BrowserSession %s was refused: %v", bs.Name, err)
		return nil
	case err != nil:
		return fmt.Errorf("create BrowserSession %s for Pod %s: %w", bs.Name, pod.Name, err)
	}
	r.Event(pod, corev1.EventTypeNormal, ReasonSessionCreated, "CreateSession",
		"Created BrowserSession %s from template %s; its credentials go to Secret %s", bs.Name, bs.Labels[v1alpha1.LabelSessionTemplate], bs.Name)
	return nil
}

// newSession is pod's BrowserSession: the template's spec with the Secret the Pod was given,
// labelled with the Pod and the template, and owned by the Pod (not as its controller, and
// without blocking the Pod's deletion: the operator deletes it itself, see stale.go).
func newSession(pod *corev1.Pod, template *v1alpha1.BrowserSessionTemplate, name string) *v1alpha1.BrowserSession {
	spec := template.Spec.Template.DeepCopy()
	spec.SecretName = name
	labels := map[string]string{
		v1alpha1.LabelSessionTemplate: template.Name,
		v1alpha1.LabelPodUID:          string(pod.UID),
	}
	// Pod names may be longer than label values can be; the owner reference always names it.
	if len(validation.IsValidLabelValue(pod.Name)) == 0 {
		labels[v1alpha1.LabelPodName] = pod.Name
	}
	notController, noBlock := false, false
	return &v1alpha1.BrowserSession{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: pod.Namespace,
			Name:      name,
			Labels:    labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
				Controller: &notController, BlockOwnerDeletion: &noBlock,
			}},
		},
		Spec: *spec,
	}
}
