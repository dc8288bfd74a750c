package podsession

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// Reconciler gives each opted-in Pod a BrowserSession made from its template, and deletes it
// when the Pod ends.
type Reconciler struct {
	client.Client
	// Kit holds the event recorder and the clock.
	reconcile.Kit
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
}

// Pods are only read: the cache holds the opted-in ones (operator.CacheOptions), and events
// about them go through events.k8s.io. BrowserSessions are created and deleted, never updated.
// Secrets are read (their metadata, from the cache) only to wait for an earlier session's.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessiontemplates,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile deletes the BrowserSessions made for the Pod's name that no longer serve it, then,
// while the Pod runs, makes sure it has its own.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod, err := r.fetchPod(ctx, req)
	if err != nil {
		return ctrl.Result{}, err
	}
	sessions, err := r.sessionsOf(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.deleteStale(ctx, req.NamespacedName, pod, sessions); err != nil {
		return ctrl.Result{}, err
	}
	if !running(pod) {
		return ctrl.Result{}, nil
	}
	return r.ensureSession(ctx, pod, sessions)
}

// fetchPod reads the Pod of req from the cache, which holds opted-in Pods only: nil when it is
// gone, or no longer opted in.
func (r *Reconciler) fetchPod(ctx context.Context, req ctrl.Request) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := r.Get(ctx, req.NamespacedName, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return pod, nil
}

// running says whether pod is there and may still need a session: opted in, not being deleted,
// and neither succeeded nor failed.
func running(pod *corev1.Pod) bool {
	if pod == nil || !pod.DeletionTimestamp.IsZero() {
		return false
	}
	if _, ok := pod.Labels[v1alpha1.LabelSessionTemplate]; !ok {
		return false
	}
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}
