package queue

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Start wakes the head of each queue (calls wake with its name) when its slot comes, so that it
// does not wait out its RetryAfter. A head woken but not back within 15 s loses its turn to the
// next one (it keeps its place, and has it back when it asks again); a waiter that has not asked
// for 3 minutes is dropped (its resource went away without Forget); an empty queue untouched
// for an hour is dropped with its series. Start implements controller-runtime's Runnable and
// returns when ctx ends.
func (q *Queues) Start(ctx context.Context) error {
	for {
		names, next := q.tick()
		for _, n := range names {
			if q.wake != nil {
				q.wake(n)
			}
		}
		if !q.sleep(ctx, next) {
			return nil // a manager stops its runnables by cancelling ctx
		}
	}
}

// sleep waits d by the queue's clock when it can set timers (a fake clock in tests), else by
// the wall clock; false when ctx ended first.
func (q *Queues) sleep(ctx context.Context, d time.Duration) bool {
	var c <-chan time.Time
	if clk, ok := q.clock.(clock.Clock); ok {
		t := clk.NewTimer(d)
		defer t.Stop()
		c = t.C()
	} else {
		t := time.NewTimer(d)
		defer t.Stop()
		c = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}

// tick does Start's housekeeping once, and returns whom to wake and how long until it is worth
// doing again (at most 1 s, for the waiters that lose their turn and the lists that show room).
func (q *Queues) tick() ([]types.NamespacedName, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	next := time.Second
	var wake []types.NamespacedName
	for k, qu := range q.queues {
		var stale []types.UID
		for _, w := range qu.fifo {
			if now.Sub(w.lastSeen) >= staleAfter {
				stale = append(stale, w.UID)
			}
			if !w.wokeAt.IsZero() && w.lastSeen.Before(w.wokeAt) && now.Sub(w.wokeAt) >= wakeGrace {
				w.skipped, w.wokeAt = true, time.Time{}
			}
		}
		for _, uid := range stale {
			q.forgetLocked(uid)
		}
		qu.prune(now)
		if len(qu.fifo) == 0 && len(qu.window) == 0 && qu.learned == 0 && now.Sub(qu.touched) >= idleAfter {
			q.removeLocked(k)
			continue
		}
		names, wait := qu.heads(now)
		wake = append(wake, names...)
		next = min(next, wait)
		qu.publish()
	}
	return wake, max(next, 10*time.Millisecond)
}

// heads returns the waiters whose slot is open now and that have not been woken for it yet, and
// how long until the head's slot opens otherwise.
func (qu *queue) heads(now time.Time) ([]types.NamespacedName, time.Duration) {
	v := qu.view(now)
	var names []types.NamespacedName
	var room map[string]int
	eff := 0
	for _, w := range qu.order(v) {
		if !qu.eligible(w, &room) {
			continue
		}
		if !qu.open(v, eff, w) {
			if eff == 0 && v.concFree > 0 {
				at := qu.slot(v, 0)
				if v.limit > 0 {
					at = later(at, notBefore(w))
				}
				return names, at.Sub(now)
			}
			break
		}
		if w.wokeAt.IsZero() || w.lastSeen.After(w.wokeAt) {
			w.wokeAt = now
			names = append(names, w.Name)
		}
		if eff++; eff >= maxWakes {
			break
		}
	}
	return names, time.Second
}
