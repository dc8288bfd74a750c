package browserbase

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// LimitConcurrency returns a Client that lets at most n calls through c at once; the others wait
// for a slot (or for their context to end, which fails them with its error before any request
// is sent). It bounds what the operator asks of Browserbase at any moment apart from how many
// BrowserSessions it reconciles in parallel, so that a reconcile's Kubernetes writes never hold
// one of the slots. n < 1 means no limit. It is NewLimiter(n).Client(c): to bound context calls
// in the same n, use a Limiter.
func LimitConcurrency(c Client, n int) Client {
	return NewLimiter(n).Client(c)
}

// A Limiter lets at most n calls at once through all the clients it wraps together, session,
// context and project calls alike, since Browserbase sees them all from one operator.
type Limiter struct {
	slots *semaphore.Weighted // nil: no limit
}

// NewLimiter returns a Limiter of n calls at once; n < 1 means no limit.
func NewLimiter(n int) *Limiter {
	if n < 1 {
		return &Limiter{}
	}
	return &Limiter{slots: semaphore.NewWeighted(int64(n))}
}

// Client returns c with its calls counted against the limit (c itself when there is none).
func (l *Limiter) Client(c Client) Client {
	if l.slots == nil {
		return c
	}
	return limited{next: c, slots: l.slots}
}

// ContextClient returns c with its calls counted against the limit (c itself when there is
// none).
func (l *Limiter) ContextClient(c ContextClient) ContextClient {
	if l.slots == nil {
		return c
	}
	return limitedContexts{next: c, slots: l.slots}
}

// ProjectClient returns c with its calls counted against the limit (c itself when there is
// none).
func (l *Limiter) ProjectClient(c ProjectClient) ProjectClient {
	if l.slots == nil {
		return c
	}
	return limitedProjects{next: c, slots: l.slots}
}

type limited struct {
	next  Client
	slots *semaphore.Weighted
}

func (l limited) CreateSession(ctx context.Context, key Sensitive, req CreateSessionRequest) (*Session, error) {
	return inSlot(ctx, l.slots, func() (*Session, error) { return l.next.CreateSession(ctx, key, req) })
}

func (l limited) GetSession(ctx context.Context, key Sensitive, id string) (*Session, error) {
	return inSlot(ctx, l.slots, func() (*Session, error) { return l.next.GetSession(ctx, key, id) })
}

func (l limited) ListSessions(ctx context.Context, key Sensitive, opts ListOptions) ([]Session, error) {
	return inSlot(ctx, l.slots, func() ([]Session, error) { return l.next.ListSessions(ctx, key, opts) })
}

func (l limited) ReleaseSession(ctx context.Context, key Sensitive, id string) (*Session, error) {
	return inSlot(ctx, l.slots, func() (*Session, error) { return l.next.ReleaseSession(ctx, key, id) })
}

type limitedContexts struct {
	next  ContextClient
	slots *semaphore.Weighted
}

func (l limitedContexts) CreateContext(ctx context.Context, key Sensitive, projectID string) (*Context, error) {
	return inSlot(ctx, l.slots, func() (*Context, error) { return l.next.CreateContext(ctx, key, projectID) })
}

func (l limitedContexts) GetContext(ctx context.Context, key Sensitive, id string) (*Context, error) {
	return inSlot(ctx, l.slots, func() (*Context, error) { return l.next.GetContext(ctx, key, id) })
}

func (l limitedContexts) DeleteContext(ctx context.Context, key Sensitive, id string) error {
	_, err := inSlot(ctx, l.slots, func() (struct{}, error) { return struct{}{}, l.next.DeleteContext(ctx, key, id) })
	return err
}

type limitedProjects struct {
	next  ProjectClient
	slots *semaphore.Weighted
}

func (l limitedProjects) GetProject(ctx context.Context, key Sensitive, id string) (*Project, error) {
	return inSlot(ctx, l.slots, func() (*Project, error) { return l.next.GetProject(ctx, key, id) })
}

func (l limitedProjects) ListProjects(ctx context.Context, key Sensitive) ([]Project, error) {
	return inSlot(ctx, l.slots, func() ([]Project, error) { return l.next.ListProjects(ctx, key) })
}

// inSlot makes call once it holds one of slots, and gives the slot back after.
func inSlot[T any](ctx context.Context, slots *semaphore.Weighted, call func() (T, error)) (T, error) {
	if err := slots.Acquire(ctx, 1); err != nil {
		var none T
		return none, err
	}
	defer slots.Release(1)
	return call()
}
