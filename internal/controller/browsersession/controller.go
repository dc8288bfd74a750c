package browsersession

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/sessionfeed"
)

// Reconciler creates a Browserbase session for each BrowserSession, keeps its status current,
// writes its credentials into a Secret, and releases it on delete.
type Reconciler struct {
	client.Client
	// Kit holds the event recorder and the clock.
	reconcile.Kit
	// APIReader reads straight from the API server: Secrets the operator did not write, and the
	// resource itself when the cache may lag.
	APIReader client.Reader
	// Browserbase is the API client.
	Browserbase browserbase.Client
	// Credentials reads the Secrets users name: API keys, proxy passwords.
	Credentials *reconcile.Credentials
	// Projects resolves each resource's key, project and queue (nil: keys only, from Credentials).
	Projects *project.Resolver
	// PollInterval is how often a live session's status is read from Browserbase.
	PollInterval time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int
	// Queue admits creates per project, in order, within its limits (nil: every create at once).
	Queue CreateQueue
	// CreatesPerMinute is the creation limit of a key used without a project object, until a 429
	// teaches one (0: none).
	CreatesPerMinute int
	// Feed tells which sessions run from one list per key, and wakes a resource whose session
	// ended (nil: each live session is read every PollInterval).
	Feed *sessionfeed.Feed
	// Wake receives the resources the feed and the queue wake.
	Wake <-chan event.GenericEvent
	// CreateGracePeriod is how long after an unfinished create the session list is trusted to
	// show the session it may have made. At least the Browserbase call timeout.
	CreateGracePeriod time.Duration
	// ClusterID tags every session, so that only this cluster's operator adopts or releases it.
	ClusterID string
	// SweepInterval is how often each resource's tagged sessions are listed for leaks (0: only
	// when a create is resolved, soon after a create that followed an unfinished one, and on
	// delete).
	SweepInterval time.Duration
	// RenewalPolicy says when a session's successor is due (nil: DefaultRenewalPolicy); tests
	// replace it.
	RenewalPolicy RenewalPolicyFunc

	// memory forgets what is remembered of a resource once it is gone, however it went.
	memory     reconcile.Memory
	memoryOnce sync.Once
	// secretDigests tells which Secrets hold what a pass would write, without reading them.
	secretDigests reconcile.ByUID[secretDigest]
	// sweeps says when each resource's tagged sessions are next listed for leaks.
	sweeps sweepSchedule
	// pending holds the connect details of new sessions until their Secret is written.
	pending reconcile.ByUID[browserbase.Session]
	// restarted holds the revision each resource's restart targets were last set to.
	restarted reconcile.ByUID[int64]
}

// Only the verbs used: every write is a patch, except the Secret's create. The finalizers rule is
// what lets the Secret's owner reference block its owner's deletion. Secrets are listed and
// watched cluster-wide unless --watch-namespaces narrows the cache (see operator.CacheOptions);
// the namespaces one is for the cluster's identity (the kube-system namespace's UID).
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions/status,verbs=get;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions/finalizers,verbs=update
// +kubebuilder:rbac:groups=browserbase.io,resources=browsercontexts,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a BrowserSession one step towards a running Browserbase session with its
// credentials in a Secret, or towards its release when the resource is being deleted. Status is
// written once, at the end, from what the steps found.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	r.memoryOnce.Do(func() {
		r.memory.Register(&r.secretDigests, &r.sweeps, &r.pending, &r.restarted)
		if r.Queue != nil {
			r.memory.Register(r.Queue)
		}
	})
	bs := &v1alpha1.BrowserSession{}
	if found, err := r.memory.Fetch(ctx, r.Client, req, bs); !found {
		return ctrl.Result{}, err
	}
	before := bs.DeepCopy()
	defer func() {
		result, retErr = r.FinalizeStatus(ctx, r.Client, before, bs, result, retErr, r.onStatusConflict(before, bs))
	}()

	if !bs.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, bs)
	}
	return r.reconcileSession(ctx, bs, before)
}

// reconcileSession runs the steps of a pass in order (pass.go): make sure the session exists
// (created once, replaced under spec.renewal), write its Secret, restart the workloads that
// asked for it, record when consumers got a successor, release a renewal's predecessor once
// they have had it for the overlap, and report. Without renewal an ended session
// is final: no call is made and no new session created.
func (r *Reconciler) reconcileSession(ctx context.Context, bs, before *v1alpha1.BrowserSession) (ctrl.Result, error) {
	p, err := r.startPass(ctx, bs, before)
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, step := range []step{r.ensureSession, r.writeSecret, r.restartTargets, r.markRotated, r.releasePredecessor} {
		if err := step(ctx, p); err != nil || p.done {
			return p.result, err
		}
	}
	return r.report(p)
}

// SetupWithManager registers the reconciler. Reconciles are triggered by spec changes and by
// annotations a person sets (status writes and the operator's own annotations are not), and by
// changes to or the deletion of an owned Secret, and by changes to the BrowserContext a session
// names (found through the sessionindex index).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := sessionindex.Register(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	ownAnnotations := reconcile.AnnotationsChangedExcept(
		v1alpha1.AnnotationCreateAttempt, v1alpha1.AnnotationCreateAttemptedAt, v1alpha1.AnnotationCreateRenews)
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BrowserSession{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, ownAnnotations))).
		// The operator creates these Secrets itself; only changes made by others need a look.
		// Metadata only: the cache never holds the credentials (see digests.go).
		Owns(&corev1.Secret{}, builder.OnlyMetadata, builder.WithPredicates(reconcile.IgnoreCreates)).
		// A BrowserContext that turns Ready wakes the sessions waiting to load it.
		Watches(&v1alpha1.BrowserContext{}, handler.EnqueueRequestsFromMapFunc(r.sessionsUsingContext)).
		// A project that changes, or turns Ready, wakes the sessions that use it (watch.go).
		Watches(&v1alpha1.BrowserbaseProject{}, handler.EnqueueRequestsFromMapFunc(r.sessionsUsingProject), builder.WithPredicates(projectChanged)).
		Watches(&v1alpha1.ClusterBrowserbaseProject{}, handler.EnqueueRequestsFromMapFunc(r.sessionsUsingProject), builder.WithPredicates(projectChanged)).
		WithOptions(reconcile.ControllerOptions(r.MaxConcurrentReconciles)).
		Named("browsersession")
	if r.Wake != nil {
		// The feed (a session that ended) and the queue (a turn that came) wake resources.
		b = b.WatchesRawSource(source.Channel(r.Wake, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}
