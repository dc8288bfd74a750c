package browsersession

import (
	"context"
	"errors"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// Reconciler creates a Browserbase session for each BrowserSession, keeps its status current,
// writes its credentials into a Secret, and releases it on delete.
type Reconciler struct {
	client.Client
	// APIReader reads straight from the API server: Secrets the operator did not write, and the
	// resource itself when the cache may lag.
	APIReader client.Reader
	// Browserbase is the API client.
	Browserbase browserbase.Client
	// Credentials resolves each resource's API key.
	Credentials *reconcile.Credentials
	// Recorder emits Kubernetes events.
	Recorder events.EventRecorder
	// Clock tells the time (nil: the real one); tests pass a fake.
	Clock clock.PassiveClock
	// PollInterval is how often a live session's status is read from Browserbase.
	PollInterval time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
	// CreateGate spaces creates per API key (nil: no spacing beyond Browserbase's 429s).
	CreateGate *CreateGate
	// CreateGracePeriod is how long after an unfinished create the session list is trusted to
	// show the session it may have made. At least the Browserbase call timeout.
	CreateGracePeriod time.Duration
	// ClusterID tags every session, so that only this cluster's operator adopts or releases it.
	ClusterID string
	// SweepInterval is how often each resource's tagged sessions are listed for leaks (0: only
	// when a create is resolved, soon after a create that followed an unfinished one, and on
	// delete).
	SweepInterval time.Duration

	// secretDigests tells which Secrets hold what a pass would write, without reading them.
	secretDigests secretDigests
	// sweeps says when each resource's tagged sessions are next listed for leaks.
	sweeps sweepSchedule
	// pending holds the connect details of new sessions until their Secret is written.
	pending pendingConnect
	// restarted holds the revision each resource's restart targets were last set to.
	restarted revisions
}

// Only the verbs used: every write is a patch, except the Secret's create. The finalizers rule is
// what lets the Secret's owner reference block its owner's deletion. Secrets are listed and
// watched cluster-wide unless --watch-namespaces narrows the cache (see CacheOptions); the
// namespaces one is for the cluster's identity (the kube-system namespace's UID). Deployments and
// StatefulSets are only patched, with one pod-template annotation, when spec.renewal names them
// as restart targets.
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions/status,verbs=get;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions/finalizers,verbs=update
// +kubebuilder:rbac:groups=browserbase.io,resources=browsercontexts,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a BrowserSession one step towards a running Browserbase session with its
// credentials in a Secret, or towards its release when the resource is being deleted. Status is
// written once, at the end, from what the steps found.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
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

// reconcileSession makes sure the session exists (creating it once, and again under
// spec.renewal), reads its status, and writes its Secret. Without renewal an ended session is
// final: no call is made and no new session created.
func (r *Reconciler) reconcileSession(ctx context.Context, bs *v1alpha1.BrowserSession) (ctrl.Result, error) {
	reconcile.MarkStarted(bs)
	if !replacesEndedSessions(bs) {
		if err := sessionEnded(bs); err != nil {
			return ctrl.Result{}, err
		}
	}
	apiKey, err := r.Credentials.APIKey(ctx, bs.Namespace, bs.Spec.APIKeySecretRef)
	if err != nil {
		return ctrl.Result{}, err
	}

	// Read once per pass, and known before any create: a taken Secret name is refused before
	// paying for a session whose credentials would have nowhere to go.
	ownedSecret := r.startOwnedSecretRead(ctx, bs)

	var sess *browserbase.Session
	var secret *metav1.PartialObjectMetadata
	if id := sessionID(bs); id != "" {
		if secret, err = ownedSecret(); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.ensureFinalizer(ctx, bs); err != nil {
			return ctrl.Result{}, err
		}
		if sess, err = r.observeCurrent(ctx, bs, apiKey, id); err != nil {
			return ctrl.Result{}, err
		}
		if r.renewalDue(bs, sess) {
			sess, secret, err = r.renewSession(ctx, bs, apiKey, sess, ownedSecret)
		} else if !sess.Status.Ended() {
			r.sweepLeaks(ctx, bs, apiKey)
		}
	} else {
		sess, secret, err = r.createOnce(ctx, bs, apiKey, ownedSecret)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if sess.ConnectURL == "" {
		r.pending.fill(bs.UID, sess)
	}
	copySessionToStatus(bs, sess)
	r.recordRenewalTime(bs, sess)

	if !sess.Status.Ended() {
		err := r.reconcileSecret(ctx, bs, sess, secret)
		if lost, ok := errors.AsType[*connectDetailsLostError](err); ok {
			return r.replaceUnusableSession(ctx, bs, apiKey, lost)
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		r.pending.forget(bs.UID)
		r.restartTargets(ctx, bs)
	}
	return r.reportSession(bs, r.releasePredecessor(ctx, bs, apiKey))
}

// ensureFinalizer adds the finalizer to a resource that has a session, so that it cannot be
// deleted without a chance to release it. Before a create, the finalizer goes in the same write
// as the create-attempt annotations (markCreateAttempt); this covers resources that lost it.
func (r *Reconciler) ensureFinalizer(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	if controllerutil.ContainsFinalizer(bs, v1alpha1.Finalizer) {
		return nil
	}
	base := bs.DeepCopy()
	controllerutil.AddFinalizer(bs, v1alpha1.Finalizer)
	return reconcile.PatchMetadata(ctx, r.Client, bs, base)
}

// event records a Kubernetes event about bs. Notes never carry credentials.
func (r *Reconciler) event(bs *v1alpha1.BrowserSession, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(bs, nil, eventType, reason, action, note, args...)
	}
}

// clock is the reconciler's clock, the real one unless a test set another.
func (r *Reconciler) clock() clock.PassiveClock {
	if r.Clock == nil {
		return clock.RealClock{}
	}
	return r.Clock
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
	delete(out, v1alpha1.AnnotationCreateRenews)
	return out
}

// SetupWithManager registers the reconciler. Reconciles are triggered by spec changes and by
// annotations a person sets (status writes and the operator's own annotations are not), and by
// changes to or the deletion of an owned Secret, and by changes to the BrowserContext a session
// names (found through the sessionindex index).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := sessionindex.Register(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	ignoreCreate := predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BrowserSession{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, userAnnotationsChanged))).
		// The operator creates these Secrets itself; only changes made by others need a look.
		// Metadata only: the cache never holds the credentials (see secretDigests).
		Owns(&corev1.Secret{}, builder.OnlyMetadata, builder.WithPredicates(ignoreCreate)).
		// A BrowserContext that turns Ready wakes the sessions waiting to load it.
		Watches(&v1alpha1.BrowserContext{}, handler.EnqueueRequestsFromMapFunc(r.sessionsUsingContext)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.MaxConcurrentReconciles,
			RateLimiter:             reconcile.NewRateLimiter(),
		}).
		Named("browsersession").
		Complete(r)
}
