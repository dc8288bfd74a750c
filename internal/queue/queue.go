package queue

import (
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/browserbase/session-operator/internal/metrics"
)

// Key names one queue: one per project ("BrowserbaseProject/ns/name",
// "ClusterBrowserbaseProject/name"), or per API key hash for resources without a project
// ("key:ab12cd34"). It is the metrics label `project`, so it never holds a secret.
type Key string

// Limits are a project's limits as its spec and flags give them.
type Limits struct {
	// CreatesPerMinute is the budget or known creation limit; 0 = none known (admit freely until
	// a 429 teaches one).
	CreatesPerMinute int
	// Concurrency is the most live sessions (PENDING or RUNNING) at once; 0 = no limit.
	Concurrency int
	// NamespaceShares optionally caps live sessions per namespace; a namespace absent from a
	// non-nil map has share 0 and is never admitted.
	NamespaceShares map[string]int
}

// Request is one resource's need for a create.
type Request struct {
	UID  types.UID
	Name types.NamespacedName // for wake-ups and the namespace share
	// Arrival orders the queue: first sessions give their creationTimestamp, renewals the time
	// the renewal became due.
	Arrival time.Time
	// Order breaks ties between equal Arrivals (creationTimestamp has whole seconds): the
	// resource's resourceVersion when first seen, which etcd increases in the order objects are
	// written, so resources applied together keep the order they were declared in. 0: unknown.
	// The first non-zero Order given for a UID is kept.
	Order   uint64
	Renewal bool
	// Deadline is when a renewal's predecessor expires (zero: none): a renewal that would reach
	// the head only after it (less a 30 s margin for the create) goes first.
	Deadline time.Time
}

// The reasons a Decision gives; the last two are the BrowserSession condition reasons.
const (
	ReasonQueued                  = "Queued"
	ReasonRateLimited             = "RateLimited"
	ReasonConcurrencyLimitReached = "ConcurrencyLimitReached"
)

// Decision is the queue's answer to Admit.
type Decision struct {
	Admitted bool
	Position int // 1-based place among waiters when not admitted
	Waiting  int // how many wait in this queue
	// At estimates the admission (absolute, so a status can show it without being rewritten
	// every second); zero when unknown (waiting on concurrency).
	At time.Time
	// RetryAfter is when to ask again: between 1 s and 1 min, jittered. Run wakes the head
	// sooner when its slot comes.
	RetryAfter time.Duration
	Reason     string // ReasonQueued, ReasonRateLimited or ReasonConcurrencyLimitReached
	Message    string // position and the limit in force, for a condition; never a secret
}

// Stats describe one queue, for tests and diagnostics.
type Stats struct {
	Waiting, CreatesLastMinute, Live int
	CreatesPerMinute                 int  // in force; 0 none
	Learned                          bool // CreatesPerMinute was learned from a 429
	Concurrency                      int  // in force; 0 none
	OldestWait                       time.Duration
}

// Queues holds one fair create queue per Key. It is safe for concurrent use.
type Queues struct {
	clock clock.PassiveClock
	wake  func(types.NamespacedName)

	mu     sync.Mutex
	queues map[Key]*queue
	byUID  map[types.UID]Key // the queue each waiter waits in
	seq    uint64            // first-seen order, to break ties in Arrival
	rand   *rand.Rand        // jitter; seeded by tests for repeatable simulations
}

// New returns empty queues reading time from clk; Start calls wake(name) for a waiter whose
// turn has come, so that it asks again before its RetryAfter.
func New(clk clock.PassiveClock, wake func(types.NamespacedName)) *Queues {
	return &Queues{
		clock: clk, wake: wake,
		queues: map[Key]*queue{}, byUID: map[types.UID]Key{},
		rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// get returns k's queue, creating it.
func (q *Queues) get(k Key, now time.Time) *queue {
	qu, ok := q.queues[k]
	if !ok {
		qu = newQueue(k, now)
		q.queues[k] = qu
	}
	qu.touched = now
	return qu
}

// SetLimits sets k's limits. Callers set them in every pass before Admit; the same limits again
// change nothing, while changed ones also drop a concurrency limit learned from a 429.
func (q *Queues) SetLimits(k Key, l Limits) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qu := q.get(k, q.clock.Now())
	if l.CreatesPerMinute != qu.limits.CreatesPerMinute || l.Concurrency != qu.limits.Concurrency ||
		(l.NamespaceShares == nil) != (qu.limits.NamespaceShares == nil) ||
		!maps.Equal(l.NamespaceShares, qu.limits.NamespaceShares) {
		qu.learnedConcurrency = 0
	}
	qu.limits = l
	qu.limits.NamespaceShares = maps.Clone(l.NamespaceShares)
	qu.publish()
}

// Admit registers r (re-registering the same UID updates it and keeps its first-seen order) and
// admits it when it is at the head of the order and a slot is free now. An admitted request
// leaves the queue and counts as one create in the window and one live session until the next
// SetLive: call Admit only right before the create, and Failed if the create made nothing.
func (q *Queues) Admit(k Key, r Request) Decision {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	if old, ok := q.byUID[r.UID]; ok && old != k {
		q.forgetLocked(r.UID) // the resource moved to another project: it starts again there
	}
	qu := q.get(k, now)
	w := qu.waiters[r.UID]
	if w == nil {
		q.seq++
		w = &waiter{Request: r, seq: q.seq, firstSeen: now}
		qu.add(w)
		q.byUID[r.UID] = k
	}
	if w.Order != 0 {
		r.Order = w.Order
	}
	if w.Request != r {
		qu.remove(w)
		w.Request = r
		qu.add(w)
	}
	w.lastSeen, w.skipped = now, false
	qu.prune(now)

	v := qu.view(now)
	order := qu.order(v)
	p := qu.place(v, order, w)
	if p.admit {
		qu.remove(w)
		delete(q.byUID, w.UID)
		qu.admitted(v, w)
		metrics.ObserveAdmission(string(k), w.Renewal, now.Sub(w.firstSeen))
		qu.publish()
		return Decision{Admitted: true, Waiting: len(qu.fifo)}
	}
	qu.publish()
	return q.decide(qu, v, w, p)
}

// Throttled records a 429 to a create admitted from k. The queue closes until now+retryAfter
// for every waiter, renewals too. For the creation rate (concurrency false) it learns the limit:
// the creates admitted in the last minute, less the refused one (at least 1), become the limit
// in force if lower than the current one, until 10 minutes pass without a 429 (so the queue
// probes again at most once per 10 minutes); a queue that has not seen the whole minute
// Browserbase counted (see seenWindow) does not learn. For the concurrency limit it learns the live count,
// less the refused create, as Concurrency in the same way, or until SetLimits changes the
// limits. Call Throttled
// before Failed for the refused create: the other way round the learned limit is one lower than
// it need be.
func (q *Queues) Throttled(k Key, retryAfter time.Duration, concurrency bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	qu := q.get(k, now)
	qu.prune(now)
	if until := now.Add(retryAfter); until.After(qu.closedUntil) {
		qu.closedUntil, qu.closedByConcurrency = until, concurrency
	}
	metrics.CountThrottled(string(k), concurrency)
	if concurrency {
		c := max(qu.live()-1, 1)
		if qu.learnedConcurrency == 0 || c < qu.learnedConcurrency {
			qu.learnedConcurrency = c
		}
		qu.lastConcurrencyThrottled = now
	} else if qu.seenWindow(now, retryAfter) {
		n := max(len(qu.window)-1, 1)
		if current, _ := qu.limit(); current == 0 || n < current {
			qu.learned = n
		}
		qu.lastThrottled = now
	}
	qu.publish()
}

// windowMargin allows for a Retry-After rounded up to whole seconds, and for clocks.
const windowMargin = 2 * time.Second

// seenWindow reports whether the queue has seen every create Browserbase counted when it answered
// 429 with retryAfter: its rolling minute began 60 s minus the Retry-After ago (its oldest create
// leaves it then), and the queue must be older than that. A queue that is not (a manager that
// just started, a leader that just took over, while its predecessor's creates, or another
// client's, fill the project's minute) would learn a limit far too low from its own short
// window: it only waits out the Retry-After. Without a Retry-After it needs a whole minute.
func (qu *queue) seenWindow(now time.Time, retryAfter time.Duration) bool {
	need := time.Minute
	if retryAfter > 0 && retryAfter < time.Minute {
		need = time.Minute - retryAfter + windowMargin
	}
	return now.Sub(qu.created) >= need
}

// Failed takes back an admitted create that made nothing (Browserbase refused it): it leaves the
// window and the live count.
func (q *Queues) Failed(k Key, uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	qu := q.get(k, now)
	qu.unadmit(uid)
	qu.publish()
}

// Requeue takes back an admitted create that was not made and will be asked for again (a 429,
// or its attempt could not be recorded): its slot is free again, and it goes back to the place it
// had, its first-seen order kept, so that a refusal does not send it behind those declared after it.
func (q *Queues) Requeue(k Key, uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	qu := q.get(k, now)
	w := qu.unadmit(uid)
	if w != nil && qu.waiters[uid] == nil {
		if _, elsewhere := q.byUID[uid]; !elsewhere {
			w.lastSeen, w.wokeAt, w.skipped = now, time.Time{}, false
			qu.add(w)
			q.byUID[uid] = k
		}
	}
	qu.publish()
}

// Forget removes a waiter: its resource was deleted or no longer needs a create.
func (q *Queues) Forget(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.forgetLocked(uid)
}

func (q *Queues) forgetLocked(uid types.UID) {
	k, ok := q.byUID[uid]
	if !ok {
		return
	}
	delete(q.byUID, uid)
	if qu := q.queues[k]; qu != nil {
		if w := qu.waiters[uid]; w != nil {
			qu.remove(w)
			qu.publish()
		}
	}
}

// SetLive sets k's live sessions from a list taken at `at`, in total and by namespace; creates
// admitted after `at` count on top. A list older than the last one changes nothing.
func (q *Queues) SetLive(k Key, total int, byNamespace map[string]int, at time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	qu := q.get(k, now)
	qu.setLive(total, byNamespace, at)
	qu.publish()
}

// Stats describe k's queue now (zero for an unknown key).
func (q *Queues) Stats(k Key) Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	qu := q.queues[k]
	if qu == nil {
		return Stats{}
	}
	now := q.clock.Now()
	qu.prune(now)
	s := Stats{Waiting: len(qu.fifo), CreatesLastMinute: len(qu.window), Live: qu.live(), Concurrency: qu.concurrency()}
	s.CreatesPerMinute, s.Learned = qu.limit()
	for _, w := range qu.fifo {
		s.OldestWait = max(s.OldestWait, now.Sub(w.firstSeen))
	}
	return s
}

// Remove drops k's queue, its waiters and its metrics series (the project is gone).
func (q *Queues) Remove(k Key) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removeLocked(k)
}

func (q *Queues) removeLocked(k Key) {
	qu, ok := q.queues[k]
	if !ok {
		return
	}
	for uid := range qu.waiters {
		delete(q.byUID, uid)
	}
	delete(q.queues, k)
	metrics.DeleteQueue(string(k))
}

// jitter lengthens d by up to 10%, or shortens it by as much at the 1-minute cap, so that
// waiters told the same time do not all come back at once.
func (q *Queues) jitter(d time.Duration) time.Duration {
	if d >= maxRetry {
		return maxRetry - time.Duration(q.rand.Float64()*0.1*float64(maxRetry))
	}
	d = max(d, minRetry)
	return min(d+time.Duration(q.rand.Float64()*0.1*float64(d)), maxRetry)
}
