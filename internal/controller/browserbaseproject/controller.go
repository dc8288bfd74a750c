package browserbaseproject

import (
	"context"
	"errors"
	"sync"
	"time"

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
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// Finalizer keeps a project object while BrowserSessions name it.
const Finalizer = "browserbase.io/project"

// DefaultRefreshInterval is how often a Ready project is checked against Browserbase again (its
// plan may change); its status counts are refreshed every StatusInterval meanwhile.
const DefaultRefreshInterval = 10 * time.Minute

// DefaultStatusInterval is how often a project with sessions running or waiting refreshes the
// counts in its status (one write per project, not per session).
const DefaultStatusInterval = 15 * time.Second

// Queues is what the reconciler needs of the create queues.
type Queues interface {
	SetLimits(k queue.Key, l queue.Limits)
	Stats(k queue.Key) queue.Stats
	Remove(k queue.Key)
}

// Router sends the calls made with a key to a project's base URL.
type Router interface {
	Route(apiKey browserbase.Sensitive, baseURL string) error
	Unroute(apiKey browserbase.Sensitive)
}

// Reconciler reconciles one of the two project kinds.
type Reconciler struct {
	client.Client
	// Kit holds the event recorder and the clock.
	reconcile.Kit
	// Kind is v1alpha1.KindBrowserbaseProject or v1alpha1.KindClusterBrowserbaseProject.
	Kind string
	// Credentials reads the key's Secret through the API reader (the cache holds only the
	// operator's own Secrets).
	Credentials *reconcile.Credentials
	// Browserbase reads projects.
	Browserbase browserbase.ProjectClient
	// Router is told each project's base URL (nil: every project uses the operator's).
	Router Router
	// Registry is where the BrowserSession controller finds each project's key and defaults.
	Registry *project.Registry
	// Queues get each project's limits, and report their counts.
	Queues Queues
	// Secrets watches the key Secrets projects name (nil: no watch, only the periodic refresh).
	Secrets *SecretWatch
	// CreatesPerMinute is the creation limit of a project with no budget until a 429 teaches
	// one (the operator's --creates-per-minute; 0: none).
	CreatesPerMinute int
	// RefreshInterval and StatusInterval: see DefaultRefreshInterval and DefaultStatusInterval.
	RefreshInterval, StatusInterval time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int

	memory     reconcile.Memory
	memoryOnce sync.Once
	// checked is what the last check against Browserbase found, per project.
	checked reconcile.ByUID[checked]
	// wake receives the projects whose key Secret changed.
	wake chan event.GenericEvent
}

// +kubebuilder:rbac:groups=browserbase.io,resources=browserbaseprojects;clusterbrowserbaseprojects,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browserbaseprojects/status;clusterbrowserbaseprojects/status,verbs=get;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browserbaseprojects/finalizers;clusterbrowserbaseprojects/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch

// Reconcile checks one project object and publishes it. Status is written once, at the end.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	r.memoryOnce.Do(func() { r.memory.Register(&r.checked) })
	obj := r.newObject()
	if found, err := r.memory.Fetch(ctx, r.Client, req, obj); !found {
		return ctrl.Result{}, err
	}
	before := obj.DeepCopyObject().(object)
	defer func() {
		result, retErr = r.FinalizeStatus(ctx, r.Client, before, obj, result, retErr, nil)
	}()

	if !obj.GetDeletionTimestamp().IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	if err := reconcile.EnsureFinalizer(ctx, r.Client, obj, Finalizer); err != nil {
		return ctrl.Result{}, err
	}
	return r.reconcileProject(ctx, obj)
}

// reconcileProject runs the steps: watch and read the key, check it with Browserbase (again
// only when something changed or the refresh is due), publish the project's key, defaults and
// limits, and report the queue's counts.
func (r *Reconciler) reconcileProject(ctx context.Context, obj object) (ctrl.Result, error) {
	reconcile.MarkStarted(obj)
	v := viewOf(obj)
	r.Secrets.Ensure(v.ref, v.secretNamespace, v.spec.APIKeySecretRef.Name)
	key, err := r.readKey(ctx, v)
	if err != nil {
		r.unpublish(v, err)
		return ctrl.Result{}, err
	}
	found, err := r.check(ctx, obj, v, key)
	if err != nil {
		// A failure to reach Browserbase leaves a published project usable: its key and limits
		// have not changed. A refusal does not.
		if !errors.As(err, new(*unreachableError)) {
			r.unpublish(v, err)
		}
		return ctrl.Result{}, err
	}
	if err := r.guardProjectChange(ctx, obj, v, found); err != nil {
		r.unpublish(v, err)
		return ctrl.Result{}, err
	}
	r.publish(v, key, found)
	r.checkBudgets(obj, v, found)
	reconcile.MarkReady(obj, v1alpha1.ReasonProjectReady, readyMessage(found))
	return ctrl.Result{RequeueAfter: r.report(v)}, nil
}

func (r *Reconciler) newObject() object {
	if r.Kind == v1alpha1.KindClusterBrowserbaseProject {
		return &v1alpha1.ClusterBrowserbaseProject{}
	}
	return &v1alpha1.BrowserbaseProject{}
}

// SetupWithManager registers the reconciler for its kind. Reconciles are triggered by spec and
// annotation changes (the default-project mark), by changes to the key Secret (SecretWatch) and
// by the refresh.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := sessionindex.Register(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	r.wake = make(chan event.GenericEvent, 64)
	if r.Secrets != nil {
		r.Secrets.notify(r.Kind, r.enqueue)
	}
	name := "browserbaseproject"
	if r.Kind == v1alpha1.KindClusterBrowserbaseProject {
		name = "clusterbrowserbaseproject"
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(r.newObject(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesRawSource(source.Channel(r.wake, &handler.EnqueueRequestForObject{})).
		WithOptions(reconcile.ControllerOptions(r.MaxConcurrentReconciles)).
		Named(name).
		Complete(r)
}

// enqueue wakes the project ref (its key Secret changed).
func (r *Reconciler) enqueue(ref project.Ref) {
	obj := r.newObject()
	obj.SetNamespace(ref.Namespace)
	obj.SetName(ref.Name)
	r.wake <- event.GenericEvent{Object: obj}
}

// secretKey is the Secret that holds a project's key.
func secretKey(v view) client.ObjectKey {
	return client.ObjectKey{Namespace: v.secretNamespace, Name: v.spec.APIKeySecretRef.Name}
}
