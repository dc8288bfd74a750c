package queue

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/browserbase/session-operator/internal/metrics"
)

const (
	period      = time.Minute      // the creation limit's rolling window
	forgetAfter = 10 * time.Minute // a learned creation limit without a 429 for this long is forgotten
	wakeGrace   = 15 * time.Second // a woken head not back by then loses its turn
	staleAfter  = 3 * time.Minute  // a waiter that has not asked for this long is dropped
	idleAfter   = time.Hour        // an empty queue untouched for this long is dropped
	liveHorizon = time.Hour        // admissions older than this fold into the live count's base
	// settle holds the first create under a creation limit for a moment after a request arrives
	// or the queue starts: resources created together are reconciled in any order, and the
	// moment lets the earlier ones register before the head is chosen.
	settle = 2 * time.Second
	// urgentMargin is how long before its Deadline a renewal should be admitted: the create
	// itself takes a moment, and the slot estimate assumes every waiter comes back on time.
	urgentMargin = 30 * time.Second

	minRetry         = time.Second
	maxRetry         = time.Minute
	concurrencyRetry = 30 * time.Second
	maxWakes         = 10 // most waiters one tick wakes in a queue without a creation limit
)

type waiter struct {
	Request
	seq                         uint64 // first-seen order
	firstSeen, lastSeen, wokeAt time.Time
	skipped                     bool // woken but not back in time: passed over until it asks again
	urgent                      bool // scratch for order
}

type admission struct {
	at  time.Time
	uid types.UID
	ns  string
	// w is the waiter admitted, kept so that a create refused with a 429 goes back to its place.
	w *waiter
}

// queue is one Key's state; every method runs under Queues.mu.
type queue struct {
	key              Key
	limits           Limits
	created, touched time.Time

	waiters map[types.UID]*waiter
	fifo    []*waiter // by Arrival, then first seen

	window              []admission // creates admitted in the last minute, oldest first
	lastSlot            time.Time   // the slot of the last admission: the next is 60s/limit after
	closedUntil         time.Time
	closedByConcurrency bool
	learned             int // creation limit learned from a 429; 0 none
	lastThrottled       time.Time
	learnedConcurrency  int // concurrency limit learned from a 429; 0 none

	lastConcurrencyThrottled time.Time

	liveBase   int
	liveBaseNS map[string]int
	liveAt     time.Time
	since      []admission // admitted after liveAt
	sinceNS    map[string]int

	v         view // scratch, reused
	urgentBuf []*waiter
	orderBuf  []*waiter
}

func newQueue(k Key, now time.Time) *queue {
	return &queue{key: k, created: now, waiters: map[types.UID]*waiter{}, sinceNS: map[string]int{}}
}

func fifoCmp(a, b *waiter) int {
	if c := a.Arrival.Compare(b.Arrival); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Order, b.Order); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func (qu *queue) add(w *waiter) {
	i, _ := slices.BinarySearchFunc(qu.fifo, w, fifoCmp)
	qu.fifo = slices.Insert(qu.fifo, i, w)
	qu.waiters[w.UID] = w
}

func (qu *queue) remove(w *waiter) {
	if i, found := slices.BinarySearchFunc(qu.fifo, w, fifoCmp); found {
		qu.fifo = slices.Delete(qu.fifo, i, i+1)
	}
	delete(qu.waiters, w.UID)
}

// limit is the creation limit in force: the budget, or a lower one learned from a 429.
func (qu *queue) limit() (int, bool) {
	if qu.learned > 0 && (qu.limits.CreatesPerMinute == 0 || qu.learned < qu.limits.CreatesPerMinute) {
		return qu.learned, true
	}
	return qu.limits.CreatesPerMinute, false
}

// concurrency is the most live sessions allowed: the limit given, or a lower one learned.
func (qu *queue) concurrency() int {
	if qu.learnedConcurrency > 0 && (qu.limits.Concurrency == 0 || qu.learnedConcurrency < qu.limits.Concurrency) {
		return qu.learnedConcurrency
	}
	return qu.limits.Concurrency
}

func (qu *queue) live() int { return qu.liveBase + len(qu.since) }

func (qu *queue) liveIn(ns string) int { return qu.liveBaseNS[ns] + qu.sinceNS[ns] }

// admitted counts w's create, admitted now in the slot v gave it. The next slot is spaced from
// that slot rather than from now, so that the time a woken head takes to come back does not
// add up over a backlog; but a slot lies no more than half the spacing (at most 1 s) in the
// past, so a head that came back late does not let a burst through after it. The window keeps
// the creates of any rolling minute to the limit whatever the spacing.
func (qu *queue) admitted(v *view, w *waiter) {
	now := v.now
	a := admission{at: now, uid: w.UID, ns: w.Name.Namespace, w: w}
	qu.window = append(qu.window, a)
	qu.since = append(qu.since, a)
	qu.sinceNS[a.ns]++
	qu.lastSlot = qu.slot(v, 0) // at most now, and no more than v.credit before
}

// unadmit takes back an admission whose create made nothing; its slot is free again. It returns
// the waiter admitted, nil if none is in the window.
func (qu *queue) unadmit(uid types.UID) *waiter {
	match := func(a admission) bool { return a.uid == uid }
	var w *waiter
	if i := slices.IndexFunc(qu.window, match); i >= 0 {
		w = qu.window[i].w
	}
	qu.window = slices.DeleteFunc(qu.window, match)
	qu.lastSlot = time.Time{}
	if n := len(qu.window); n > 0 {
		qu.lastSlot = qu.window[n-1].at
	}
	if i := slices.IndexFunc(qu.since, match); i >= 0 {
		qu.sinceNS[qu.since[i].ns]--
		qu.since = slices.Delete(qu.since, i, i+1)
	}
	return w
}

func (qu *queue) setLive(total int, byNamespace map[string]int, at time.Time) {
	if at.Before(qu.liveAt) {
		return
	}
	qu.liveBase, qu.liveBaseNS, qu.liveAt = total, maps.Clone(byNamespace), at
	qu.since = slices.DeleteFunc(qu.since, func(a admission) bool { return !a.at.After(at) })
	clear(qu.sinceNS)
	for _, a := range qu.since {
		qu.sinceNS[a.ns]++
	}
}

// prune drops what time has made irrelevant: creates out of the window, learned limits
// unconfirmed for 10 minutes, and admissions old enough to count as part of the live base.
func (qu *queue) prune(now time.Time) {
	i := 0
	for i < len(qu.window) && !qu.window[i].at.After(now.Add(-period)) {
		i++
	}
	qu.window = slices.Delete(qu.window, 0, i)
	if qu.learned > 0 && now.Sub(qu.lastThrottled) >= forgetAfter {
		qu.learned = 0
	}
	if qu.learnedConcurrency > 0 && now.Sub(qu.lastConcurrencyThrottled) >= forgetAfter {
		qu.learnedConcurrency = 0
	}
	for len(qu.since) > 0 && now.Sub(qu.since[0].at) >= liveHorizon {
		a := qu.since[0]
		qu.since = qu.since[1:]
		qu.sinceNS[a.ns]--
		qu.liveBase++
		if qu.liveBaseNS == nil {
			qu.liveBaseNS = map[string]int{}
		}
		qu.liveBaseNS[a.ns]++
	}
}

func (qu *queue) publish() {
	l, _ := qu.limit()
	metrics.SetQueueState(string(qu.key), len(qu.fifo), qu.live(), l, qu.concurrency())
}

// view is what a decision needs of the queue at one instant.
type view struct {
	now         time.Time
	limit       int
	learned     bool
	concurrency int
	live        int
	concFree    int // sessions that may start now; MaxInt without a concurrency limit
	closed      bool
	start       time.Time     // the earliest any create may go
	interval    time.Duration // 60s/limit
	credit      time.Duration // how far a slot may lie in the past: see admitted
	slots       []time.Time   // slot(i), computed as far as asked
}

func (qu *queue) view(now time.Time) *view {
	v := &qu.v
	*v = view{now: now, slots: v.slots[:0], concFree: math.MaxInt}
	v.limit, v.learned = qu.limit()
	v.concurrency, v.live = qu.concurrency(), qu.live()
	if v.concurrency > 0 {
		v.concFree = max(v.concurrency-v.live, 0)
	}
	v.closed = now.Before(qu.closedUntil)
	v.start = later(now, qu.closedUntil)
	if v.limit > 0 {
		v.interval = period / time.Duration(v.limit)
		v.credit = min(v.interval/2, time.Second)
		v.start = later(qu.closedUntil, qu.created.Add(settle))
	}
	return v
}

// slot is when the i-th next create (from 0) may go by the closing, the spacing (60s/limit) and
// the rolling window (at most limit a minute), whatever the concurrency. Slots follow the
// schedule of the last admission's slot (see admitted), so the next may lie slightly past.
func (qu *queue) slot(v *view, i int) time.Time {
	if v.limit == 0 {
		return v.start
	}
	for j := len(v.slots); j <= i; j++ {
		t, prev := v.start, qu.lastSlot
		if j > 0 {
			prev = v.slots[j-1]
		}
		if !prev.IsZero() {
			t = later(t, prev.Add(v.interval))
		}
		// The limit-th create before this one must have left the window.
		if k := len(qu.window) + j - v.limit; k >= 0 {
			var ref time.Time
			if k < len(qu.window) {
				ref = qu.window[k].at
			} else {
				ref = v.slots[k-len(qu.window)]
			}
			t = later(t, ref.Add(period))
		}
		if j == 0 && t.Before(v.now.Add(-v.credit)) {
			t = v.now // no schedule to keep: the queue was idle, or its head came back late
		}
		v.slots = append(v.slots, t)
	}
	return v.slots[i]
}

// notBefore is the settle time of a request: see settle.
func notBefore(w *waiter) time.Time {
	t := w.Arrival
	if w.firstSeen.Before(t) {
		t = w.firstSeen // an Arrival in the future (clock skew) holds no longer than settle
	}
	return t.Add(settle)
}

// order is the admission order: urgent renewals first, by Deadline, then everyone by Arrival.
// A renewal is urgent when its Deadline comes before the slot of its place in Arrival order
// (less urgentMargin), or
// when that place is beyond the sessions the concurrency limit lets start now (its slot is then
// unknown; a renewal's successor replaces a live session, so it should not wait for first
// sessions). The result is only read, and only until the next call.
func (qu *queue) order(v *view) []*waiter {
	urgent := qu.urgentBuf[:0]
	for i, w := range qu.fifo {
		w.urgent = false
		if w.Renewal && !w.Deadline.IsZero() && (i >= v.concFree || w.Deadline.Add(-urgentMargin).Before(qu.slot(v, i))) {
			w.urgent = true
			urgent = append(urgent, w)
		}
	}
	qu.urgentBuf = urgent
	if len(urgent) == 0 {
		return qu.fifo
	}
	slices.SortFunc(urgent, func(a, b *waiter) int {
		if c := a.Deadline.Compare(b.Deadline); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	qu.orderBuf = append(qu.orderBuf[:0], urgent...)
	for _, w := range qu.fifo {
		if !w.urgent {
			qu.orderBuf = append(qu.orderBuf, w)
		}
	}
	return qu.orderBuf
}

// eligible tells whether w can take a slot: it has not lost its turn, and its namespace has
// room left after the eligible waiters before it (whose claims eligible records in room).
func (qu *queue) eligible(w *waiter, room *map[string]int) bool {
	if w.skipped {
		return false
	}
	shares := qu.limits.NamespaceShares
	if shares == nil {
		return true
	}
	if *room == nil {
		*room = map[string]int{}
	}
	ns := w.Name.Namespace
	r, seen := (*room)[ns]
	if !seen {
		r = shares[ns] - qu.liveIn(ns)
	}
	if r <= 0 {
		(*room)[ns] = r
		return false
	}
	(*room)[ns] = r - 1
	return true
}

// open tells whether the waiter w, with eff eligible waiters before it, may go now.
func (qu *queue) open(v *view, eff int, w *waiter) bool {
	if v.closed || eff >= v.concFree {
		return false
	}
	if v.limit == 0 {
		return true // no creation limit known: as many as ask, so that reconciles run in parallel
	}
	return eff == 0 && !v.now.Before(qu.slot(v, 0)) && !v.now.Before(notBefore(w))
}

type placement struct {
	pos    int  // 1-based place in the order
	eff    int  // eligible waiters before it
	nsFull bool // its namespace has no room for it
	admit  bool
}

func (qu *queue) place(v *view, order []*waiter, w *waiter) placement {
	var p placement
	var room map[string]int
	for i, x := range order {
		ok := qu.eligible(x, &room)
		if x == w {
			p.pos, p.nsFull = i+1, !ok
			break
		}
		if ok {
			p.eff++
		}
	}
	p.admit = !p.nsFull && qu.open(v, p.eff, w)
	return p
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
