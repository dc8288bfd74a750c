package browsercontext

import (
	"context"
	"sync"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// DefaultPollInterval is how often a context is read from Browserbase when PollInterval is not
// set. Contexts do not change on their own: the read only notices one deleted outside the
// operator, so it can be rare.
const DefaultPollInterval = 10 * time.Minute

// Reconciler creates a Browserbase context for each BrowserContext, writes its id into a Secret,
// and deletes it when the resource is deleted and no BrowserSession refers to it.
type Reconciler struct {
	client.Client
	// Kit holds the event recorder and the clock.
	reconcile.Kit
	// APIReader reads straight from the API server: the context's Secret (the cache holds the
	// metadata of the operator's Secrets only, never their data) and Secrets of others.
	APIReader client.Reader
	// Browserbase is the API client.
	Browserbase browserbase.ContextClient
	// Credentials resolves each resource's API key.
	Credentials *reconcile.Credentials
	// PollInterval is how often a context is read from Browserbase (0: DefaultPollInterval).
	PollInterval time.Duration
	// MaxConcurrentReconciles bounds parallel reconciles.
	MaxConcurrentReconciles int

	// memory forgets what is remembered of a resource once it is gone, however it went.
	memory     reconcile.Memory
	memoryOnce sync.Once
	// pending holds the ids of contexts created but not yet in their Secret.
	pending reconcile.ByUID[string]
	// polls says when each context is next read from Browserbase. Empty after a restart, when
	// each context is read once.
	polls reconcile.ByUID[time.Time]
}

// Only the verbs used: every write is a patch, except the Secret's create. BrowserSessions are
// only listed (through the cache) to know whether a context is in use.
// +kubebuilder:rbac:groups=browserbase.io,resources=browsercontexts,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsercontexts/status,verbs=get;patch
// +kubebuilder:rbac:groups=browserbase.io,resources=browsercontexts/finalizers,verbs=update
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a BrowserContext one step towards a Browserbase context with its id in a
// Secret, or towards the context's deletion when the resource is being deleted. Status is
// written once, at the end, from what the steps found.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	r.memoryOnce.Do(func() { r.memory.Register(&r.pending, &r.polls) })
	bc := &v1alpha1.BrowserContext{}
	if found, err := r.memory.Fetch(ctx, r.Client, req, bc); !found {
		return ctrl.Result{}, err
	}
	before := bc.DeepCopy()
	defer func() {
		result, retErr = r.FinalizeStatus(ctx, r.Client, before, bc, result, retErr, nil)
	}()

	if !bc.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, bc)
	}
	return r.reconcileContext(ctx, bc)
}

// reconcileContext makes sure the context exists (creating it once) and its id is in the
// Secret, then reads it from Browserbase now and then.
func (r *Reconciler) reconcileContext(ctx context.Context, bc *v1alpha1.BrowserContext) (ctrl.Result, error) {
	reconcile.MarkStarted(bc)
	bc.Status.SecretName = SecretName(bc)

	// Before any call: a taken Secret name is refused before a context is made whose id would
	// have nowhere to go.
	secret, err := r.readSecret(ctx, bc)
	if err != nil {
		return ctrl.Result{}, err
	}
	apiKey, err := r.Credentials.APIKey(ctx, bc.Namespace, bc.Spec.APIKeySecretRef)
	if err != nil {
		return ctrl.Result{}, err
	}

	id, err := r.contextID(ctx, bc, secret)
	if err != nil {
		return ctrl.Result{}, err
	}
	created := false
	if id == "" {
		if id, err = r.createOnce(ctx, bc, apiKey); err != nil {
			return ctrl.Result{}, err
		}
		created = true
	} else if err := reconcile.EnsureFinalizer(ctx, r.Client, bc, v1alpha1.ContextFinalizer); err != nil {
		return ctrl.Result{}, err
	}
	// The id goes to the Secret first: it is the only record of it.
	if err := r.writeSecret(ctx, bc, secret, id); err != nil {
		return ctrl.Result{}, err
	}
	r.pending.Forget(bc.UID)
	if err := r.recordID(ctx, bc, id); err != nil {
		return ctrl.Result{}, err
	}
	if err := secretBeingDeleted(bc, secret, id); err != nil {
		return ctrl.Result{}, err
	}
	after, err := r.observeContext(ctx, bc, apiKey, id, created)
	return ctrl.Result{RequeueAfter: after}, err
}

// pendingID is the id of bc's context when it was created but is not in its Secret yet.
func (r *Reconciler) pendingID(bc *v1alpha1.BrowserContext) string {
	id, _ := r.pending.Get(bc.UID)
	return id
}

// pollInterval is PollInterval, or its default.
func (r *Reconciler) pollInterval() time.Duration {
	if r.PollInterval <= 0 {
		return DefaultPollInterval
	}
	return r.PollInterval
}
