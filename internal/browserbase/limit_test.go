package browserbase

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blockingClient answers every call once release is closed, and counts the calls in flight.
type blockingClient struct {
	release           chan struct{}
	inFlight, highest atomic.Int32
	calls             atomic.Int32
}

func (b *blockingClient) wait() {
	b.calls.Add(1)
	n := b.inFlight.Add(1)
	for {
		h := b.highest.Load()
		if n <= h || b.highest.CompareAndSwap(h, n) {
			break
		}
	}
	<-b.release
	b.inFlight.Add(-1)
}

func (b *blockingClient) CreateSession(context.Context, Sensitive, CreateSessionRequest) (*Session, error) {
	b.wait()
	return &Session{ID: "s"}, nil
}

func (b *blockingClient) GetSession(context.Context, Sensitive, string) (*Session, error) {
	b.wait()
	return &Session{ID: "s"}, nil
}

func (b *blockingClient) ListSessions(context.Context, Sensitive, ListOptions) ([]Session, error) {
	b.wait()
	return nil, nil
}

func (b *blockingClient) ReleaseSession(context.Context, Sensitive, string) (*Session, error) {
	b.wait()
	return &Session{ID: "s"}, nil
}

func TestLimitConcurrency(t *testing.T) {
	inner := &blockingClient{release: make(chan struct{})}
	c := LimitConcurrency(inner, 2)
	ctx := context.Background()
	calls := []func() error{
		func() error { _, err := c.CreateSession(ctx, "k", CreateSessionRequest{}); return err },
		func() error { _, err := c.GetSession(ctx, "k", "s"); return err },
		func() error { _, err := c.ListSessions(ctx, "k", ListOptions{}); return err },
		func() error { _, err := c.ReleaseSession(ctx, "k", "s"); return err },
		func() error { _, err := c.CreateSession(ctx, "k", CreateSessionRequest{}); return err },
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(calls))
	for _, call := range calls {
		wg.Go(func() { errs <- call() })
	}
	deadline := time.Now().Add(10 * time.Second)
	for inner.inFlight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}

	// With both slots taken, a caller whose context ends gives up without a request.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.CreateSession(cancelled, "k", CreateSessionRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled caller got %v, want context.Canceled", err)
	}

	close(inner.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("call failed: %v", err)
		}
	}
	if got := inner.highest.Load(); got != 2 {
		t.Errorf("at most %d calls were in flight at once, want 2", got)
	}
	if got := inner.calls.Load(); got != int32(len(calls)) {
		t.Errorf("%d calls reached the client, want %d (none for the cancelled caller)", got, len(calls))
	}
	if LimitConcurrency(inner, 0) != Client(inner) {
		t.Error("n < 1 must mean no limit")
	}
}

func (b *blockingClient) CreateContext(context.Context, Sensitive, string) (*Context, error) {
	b.wait()
	return &Context{ID: "c"}, nil
}

func (b *blockingClient) GetContext(context.Context, Sensitive, string) (*Context, error) {
	b.wait()
	return &Context{ID: "c"}, nil
}

func (b *blockingClient) DeleteContext(context.Context, Sensitive, string) error {
	b.wait()
	return nil
}

// TestLimiterSharesSlotsBetweenSessionsAndContexts checks that session and context calls
// count against one limit.
func TestLimiterSharesSlotsBetweenSessionsAndContexts(t *testing.T) {
	inner := &blockingClient{release: make(chan struct{})}
	l := NewLimiter(2)
	sessions, contexts := l.Client(inner), l.ContextClient(inner)
	ctx := context.Background()
	calls := []func() error{
		func() error { _, err := sessions.GetSession(ctx, "k", "s"); return err },
		func() error { _, err := contexts.CreateContext(ctx, "k", ""); return err },
		func() error { _, err := contexts.GetContext(ctx, "k", "c"); return err },
		func() error { return contexts.DeleteContext(ctx, "k", "c") },
		func() error { _, err := sessions.ReleaseSession(ctx, "k", "s"); return err },
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(calls))
	for _, call := range calls {
		wg.Go(func() { errs <- call() })
	}
	deadline := time.Now().Add(10 * time.Second)
	for inner.inFlight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}

	// With both slots taken, by whichever calls, a caller whose context ends gives up without a
	// request, be it a context call or a session call.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := contexts.DeleteContext(cancelled, "k", "c"); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled DeleteContext got %v, want context.Canceled", err)
	}
	if _, err := contexts.CreateContext(cancelled, "k", ""); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled CreateContext got %v, want context.Canceled", err)
	}
	if _, err := sessions.CreateSession(cancelled, "k", CreateSessionRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled CreateSession got %v, want context.Canceled", err)
	}

	close(inner.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("call failed: %v", err)
		}
	}
	if got := inner.highest.Load(); got != 2 {
		t.Errorf("at most %d calls were in flight at once, want 2", got)
	}
	if got := inner.calls.Load(); got != int32(len(calls)) {
		t.Errorf("%d calls reached the client, want %d (none for the cancelled callers)", got, len(calls))
	}
	// The same slots, not two sets of n: checked directly, since which calls overlapped above
	// depends on scheduling.
	if sessions.(limited).slots != contexts.(limitedContexts).slots {
		t.Error("session and context calls of one Limiter hold different slots")
	}
	if NewLimiter(0).ContextClient(inner) != ContextClient(inner) || NewLimiter(-1).Client(inner) != Client(inner) {
		t.Error("n < 1 must mean no limit")
	}
}

func (b *blockingClient) GetProject(context.Context, Sensitive, string) (*Project, error) {
	b.wait()
	return &Project{ID: "p"}, nil
}

func (b *blockingClient) ListProjects(context.Context, Sensitive) ([]Project, error) {
	b.wait()
	return []Project{{ID: "p"}}, nil
}

// TestLimiterCountsProjectCalls checks that project calls take the slots session calls take.
func TestLimiterCountsProjectCalls(t *testing.T) {
	inner := &blockingClient{release: make(chan struct{})}
	l := NewLimiter(2)
	sessions, projects := l.Client(inner), l.ProjectClient(inner)
	ctx := context.Background()
	calls := []func() error{
		func() error { _, err := projects.GetProject(ctx, "k", "p"); return err },
		func() error { _, err := projects.ListProjects(ctx, "k"); return err },
		func() error { _, err := sessions.GetSession(ctx, "k", "s"); return err },
		func() error { _, err := projects.GetProject(ctx, "k", "p"); return err },
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(calls))
	for _, call := range calls {
		wg.Go(func() { errs <- call() })
	}
	deadline := time.Now().Add(10 * time.Second)
	for inner.inFlight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := projects.GetProject(cancelled, "k", "p"); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled GetProject got %v, want context.Canceled", err)
	}
	if _, err := projects.ListProjects(cancelled, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled ListProjects got %v, want context.Canceled", err)
	}

	close(inner.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("call failed: %v", err)
		}
	}
	if got := inner.highest.Load(); got != 2 {
		t.Errorf("at most %d calls were in flight at once, want 2", got)
	}
	if got := inner.calls.Load(); got != int32(len(calls)) {
		t.Errorf("%d calls reached the client, want %d (none for the cancelled callers)", got, len(calls))
	}
	if sessions.(limited).slots != projects.(limitedProjects).slots {
		t.Error("session and project calls of one Limiter hold different slots")
	}
	if NewLimiter(0).ProjectClient(inner) != ProjectClient(inner) {
		t.Error("n < 1 must mean no limit")
	}
}
