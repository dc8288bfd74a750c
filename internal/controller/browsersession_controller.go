package controller

import (
	"context"
	"errors"
	"maps"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// BrowserSessionReconciler creates a Browserbase session for each BrowserSession, keeps its
// status current, writes its credentials into a Secret, and releases it on delete.
type BrowserSessionReconciler struct {
	client.Client
	// APIReader reads straight from the API server: Secrets the user provides (API keys, proxy
	// passwords) and Secrets the operator did not write, none of which are cached.
	APIReader client.Reader
	// Browserbase is the API client.
	Browserbase browserbase.Client
	// Recorder emits Kubernetes events.
	Recorder events.EventRecorder
	// DefaultAPIKey is used for BrowserSessions without spec.apiKeySecretRef (may be empty).
	DefaultAPIKey browserbase.Sensitive
	// PollInterval is how often a live session's status is read from Browserbase.
	PollInterval time.Duration
	// CredentialsRecheckInterval is how often a missing Secret is looked for again.
	CredentialsRecheckInterval time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles (and so parallel Browserbase calls).
	MaxConcurrentReconciles int
	// CreateGate spaces creates per API key (nil: no spacing beyond Browserbase's 429s).
	CreateGate *CreateGate
	// CreateGracePeriod is how long after an unfinished create the session list is trusted to
	// show the session it may have made.
	CreateGracePeriod time.Duration

	// secretDigests tells which Secrets hold what a pass would write, without reading them.
	secretDigests secretDigests
}

// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a BrowserSession one step towards a running Browserbase session with its
// credentials in a Secret, or towards its release when the resource is being deleted. Status is
// written once, at the end, from what the steps found.
func (r *BrowserSessionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	bs := &v1alpha1.BrowserSession{}
	if err := r.Get(ctx, req.NamespacedName, bs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := bs.DeepCopy()
	defer func() {
		result, retErr = r.finalizeStatus(ctx, before, bs, result, retErr)
	}()

	if !bs.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, bs)
	}
	return r.reconcileSession(ctx, bs)
}

// ensureFinalizer adds the finalizer to a resource that has a session, so that it cannot be
// deleted without a chance to release it. Before a create, the finalizer goes in the same write
// as the create-attempt annotations (markCreateAttempt); this covers resources that lost it.
func (r *BrowserSessionReconciler) ensureFinalizer(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	if controllerutil.ContainsFinalizer(bs, v1alpha1.Finalizer) {
		return nil
	}
	base := bs.DeepCopy()
	controllerutil.AddFinalizer(bs, v1alpha1.Finalizer)
	return r.Patch(ctx, bs, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// reconcileSession makes sure the session exists (creating it once), reads its status, and
// writes its Secret. An ended session is final: no call is made and no new session created.
func (r *BrowserSessionReconciler) reconcileSession(ctx context.Context, bs *v1alpha1.BrowserSession) (ctrl.Result, error) {
	if meta.FindStatusCondition(bs.Status.Conditions, v1alpha1.ConditionReady) == nil {
		setCondition(bs, v1alpha1.ConditionReady, metav1.ConditionUnknown, v1alpha1.ReasonReconciling, "Reconciliation has started")
		setCondition(bs, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonReconciling, "Reconciliation has started")
	}
	if err := sessionEnded(bs); err != nil {
		return ctrl.Result{}, err
	}
	apiKey, err := r.credentials(ctx, bs)
	if err != nil {
		return ctrl.Result{}, err
	}

	// Read once per pass, and known before any create: a taken Secret name is refused before
	// paying for a session whose credentials would have nowhere to go.
	ownedSecret := r.readOwnedSecret(ctx, bs)

	var sess *browserbase.Session
	var secret *metav1.PartialObjectMetadata
	if id := sessionID(bs); id != "" {
		if secret, err = ownedSecret(); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.ensureFinalizer(ctx, bs); err != nil {
			return ctrl.Result{}, err
		}
		sess, err = r.observeSession(ctx, bs, apiKey, id)
	} else {
		sess, secret, err = r.createOnce(ctx, bs, apiKey, ownedSecret)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	recordSession(bs, sess)

	if !sess.Status.Ended() {
		if err := r.reconcileSecret(ctx, bs, sess, secret); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.reportSession(bs)
}

// finalizeStatus turns the outcome into conditions, stamps observedGeneration, and patches
// status if anything changed. A Warning event is emitted when the resource becomes stalled,
// once, not on every pass.
func (r *BrowserSessionReconciler) finalizeStatus(ctx context.Context, before, bs *v1alpha1.BrowserSession, result ctrl.Result, err error) (ctrl.Result, error) {
	result, err = applyOutcome(bs, result, err)
	bs.Status.ObservedGeneration = bs.Generation

	if newly := stalledTransition(before, bs); newly != nil {
		r.event(bs, corev1.EventTypeWarning, newly.Reason, "Reconcile", "%s", newly.Message)
	} else if waiting := waitTransition(before, bs); waiting != nil {
		r.event(bs, corev1.EventTypeWarning, waiting.Reason, "Reconcile", "%s", waiting.Message)
	}
	if equality.Semantic.DeepEqual(before.Status, bs.Status) {
		return result, err
	}
	// Patch status against the status read at the start, so the patch holds only status, and
	// with the resourceVersion last seen: a status computed from a stale copy (a lagging cache)
	// must not overwrite a newer one. A conflict requeues, and the next pass recomputes it.
	base := bs.DeepCopy()
	base.Status = before.Status
	patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	patchErr := r.Status().Patch(ctx, bs, patch, FieldOwner)
	if apierrors.IsConflict(patchErr) && before.Status.ID == "" && bs.Status.ID != "" {
		patchErr = r.recordNewSession(ctx, bs)
	}
	if patchErr != nil && !apierrors.IsNotFound(patchErr) {
		if err == nil && apierrors.IsConflict(patchErr) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		if err == nil {
			err = patchErr
		}
	}
	return result, err
}

// recordNewSession writes the status of a pass that made or adopted a session onto a fresh copy
// of bs, after the first try met a conflict (someone changed the resource meanwhile, a label for
// instance): the session id is known here, and must not wait for a list call to be found again.
// A copy whose status already names a session has been handled elsewhere, and keeps its status.
func (r *BrowserSessionReconciler) recordNewSession(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	fresh := &v1alpha1.BrowserSession{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(bs), fresh); err != nil {
		return err
	}
	if fresh.Status.ID != "" || fresh.Generation != bs.Generation {
		return apierrors.NewConflict(v1alpha1.GroupVersion.WithResource("browsersessions").GroupResource(), bs.Name,
			errors.New("the resource changed while its session was being created"))
	}
	base := fresh.DeepCopy()
	fresh.Status = bs.Status
	return r.Status().Patch(ctx, fresh, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), FieldOwner)
}

// stalledTransition returns the Stalled condition if it is new or says something new.
func stalledTransition(before, after *v1alpha1.BrowserSession) *metav1.Condition {
	now := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionStalled)
	if now == nil || now.Status != metav1.ConditionTrue {
		return nil
	}
	was := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionStalled)
	if was != nil && was.Status == now.Status && was.Reason == now.Reason && was.Message == now.Message {
		return nil
	}
	return now
}

// waitReasons are the waits worth an event when they begin: a rate limit, an outage, a lost
// create answer. Their ends show as the SessionCreated or Ready that follows.
var waitReasons = map[string]bool{
	v1alpha1.ReasonRateLimited:             true,
	v1alpha1.ReasonConcurrencyLimitReached: true,
	v1alpha1.ReasonBrowserbaseUnavailable:  true,
	v1alpha1.ReasonCreateOutcomeUnknown:    true,
}

// waitTransition returns the Reconciling condition if the resource has just begun one of the
// waitReasons, so that a wait makes one event, not one per retry.
func waitTransition(before, after *v1alpha1.BrowserSession) *metav1.Condition {
	now := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionReconciling)
	if now == nil || now.Status != metav1.ConditionTrue || !waitReasons[now.Reason] {
		return nil
	}
	if was := meta.FindStatusCondition(before.Status.Conditions, v1alpha1.ConditionReconciling); was != nil && was.Reason == now.Reason {
		return nil
	}
	return now
}

// event records a Kubernetes event about bs. Notes never carry credentials.
func (r *BrowserSessionReconciler) event(bs *v1alpha1.BrowserSession, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(bs, nil, eventType, reason, action, note, args...)
	}
}

// userAnnotationsChanged passes updates that change an annotation other than the operator's
// own bookkeeping: a person asking for another attempt, or setting skip-release. The operator's
// writes of its create-attempt annotations must not trigger reconciles, or a refused create
// would trigger the next one.
var userAnnotationsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return false
		}
		return !maps.Equal(userAnnotations(e.ObjectOld.GetAnnotations()), userAnnotations(e.ObjectNew.GetAnnotations()))
	},
}

func userAnnotations(a map[string]string) map[string]string {
	out := maps.Clone(a)
	delete(out, v1alpha1.AnnotationCreateAttempt)
	delete(out, v1alpha1.AnnotationCreateAttemptedAt)
	return out
}

// SetupWithManager registers the reconciler. Reconciles are triggered by spec changes and by
// annotations a person sets (status writes and the operator's own annotations are not), and by
// changes to or the deletion of an owned Secret.
func (r *BrowserSessionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	// Errors back off from 1 s to 5 min per resource, jittered, and all retries together stay
	// under 10 per second: controller-runtime's default starts at 5 ms, which would hammer
	// Browserbase.
	rateLimiter := jitteredRateLimiter{workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, 5*time.Minute),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)}
	ignoreCreate := predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BrowserSession{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, userAnnotationsChanged))).
		// The operator creates these Secrets itself; only changes made by others need a look.
		// Metadata only: the cache never holds the credentials (see secretDigests).
		Owns(&corev1.Secret{}, builder.OnlyMetadata, builder.WithPredicates(ignoreCreate)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.MaxConcurrentReconciles,
			RateLimiter:             rateLimiter,
		}).
		Named("browsersession").
		Complete(r)
}

// jitteredRateLimiter adds up to 20% to each backoff, so resources that failed together (an
// outage of Browserbase) do not all retry together.
type jitteredRateLimiter struct {
	workqueue.TypedRateLimiter[reconcile.Request]
}

func (j jitteredRateLimiter) When(item reconcile.Request) time.Duration {
	return wait.Jitter(j.TypedRateLimiter.When(item), 0.2)
}
