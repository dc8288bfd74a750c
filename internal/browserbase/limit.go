package browserbase

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// LimitConcurrency returns a Client that lets at most n calls through c at once; the others wait
// for a slot (or for their context to end, which fails them with its error before any request
// is sent). It bounds what the operator asks of Browserbase at any moment apart from how many
// BrowserSessions it reconciles in parallel, so that a reconcile's Kubernetes writes never hold
// one of the slots. n < 1 means no limit.
func LimitConcurrency(c Client, n int) Client {
	if n < 1 {
		return c
	}
	return limited{next: c, slots: semaphore.NewWeighted(int64(n))}
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

// inSlot makes call once it holds one of slots, and gives the slot back after.
func inSlot[T any](ctx context.Context, slots *semaphore.Weighted, call func() (T, error)) (T, error) {
	if err := slots.Acquire(ctx, 1); err != nil {
		var none T
		return none, err
	}
	defer slots.Release(1)
	return call()
}
