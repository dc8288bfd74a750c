// Package sessionfeed keeps the operator's picture of which Browserbase sessions run fresh at a
// constant cost: one list call per API key every few seconds (GET /v1/sessions?status=RUNNING)
// instead of one read per session per minute. A session that ends drops out of the list, and its
// resource is woken within an interval; a resource whose session is still listed reads it from
// the feed, without a call. The same list tells each queue how many sessions its project runs.
package sessionfeed

import (
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/queue"
)

// DefaultInterval is how often each key's running sessions are listed.
const DefaultInterval = 5 * time.Second

// idleAfter is how long a key with no tracked session is still listed (a queue may be waiting
// for room): then it is dropped, and costs nothing.
const idleAfter = 5 * time.Minute

// A Feed lists the running sessions of every API key in use, every Interval.
type Feed struct {
	// Browserbase lists sessions.
	Browserbase browserbase.Client
	// Clock is the feed's time.
	Clock clock.WithTicker
	// Interval is how often each key is listed (DefaultInterval when zero).
	Interval time.Duration
	// Wake is called with a resource whose session was running at the last list and is not now.
	Wake func(types.NamespacedName)
	// Live, when set, is told each queue's running sessions (all of its project's, and this
	// operator's by namespace) after each list.
	Live func(k queue.Key, total int, byNamespace map[string]int, at time.Time)
	// ClusterID is this cluster's tag: sessions tagged with another cluster are not this
	// operator's.
	ClusterID string
	// Unknown, when set, is told of a running session tagged with a resource of this cluster that
	// no resource holds, once it has been listed twice and is older than LeakAge: a leak, which
	// that resource's sweep releases. It replaces the periodic sweep of every resource.
	Unknown func(uid types.UID, name types.NamespacedName)
	// LeakAge is how old an unknown session must be before it is reported (a session just
	// created is not tracked until its resource's pass ends).
	LeakAge time.Duration

	mu       sync.Mutex
	accounts map[[sha256.Size]byte]*account
}

type account struct {
	key browserbase.Sensitive
	// queues are the create queues of the resources using the key: a key can serve a project
	// object and be named directly too, and every such queue is told the project's live count.
	queues map[queue.Key]bool
	// tracked are the sessions resources hold, by id.
	tracked map[string]tracked
	// running is the last list, by id; listedAt when it was taken (zero: never yet).
	running  map[string]browserbase.Session
	listedAt time.Time
	// usedAt is when a resource last tracked a session or looked one up with this key.
	usedAt time.Time
	// reported are the unknown sessions already reported, so each is reported once.
	reported map[string]bool
}

type tracked struct {
	name  types.NamespacedName
	since time.Time
}

func (f *Feed) interval() time.Duration {
	if f.Interval > 0 {
		return f.Interval
	}
	return DefaultInterval
}

// account returns the key's account, made on first use. Callers hold f.mu.
func (f *Feed) account(key browserbase.Sensitive, q queue.Key) *account {
	if f.accounts == nil {
		f.accounts = map[[sha256.Size]byte]*account{}
	}
	h := sha256.Sum256([]byte(key.Reveal()))
	a, ok := f.accounts[h]
	if !ok {
		a = &account{key: key, queues: map[queue.Key]bool{}, tracked: map[string]tracked{}}
		f.accounts[h] = a
	}
	a.queues[q] = true
	a.usedAt = f.Clock.Now()
	return a
}

// Track says that the resource name holds session id, live, with key (whose creates wait in q):
// it is woken when the session drops out of the running list.
func (f *Feed) Track(key browserbase.Sensitive, q queue.Key, id string, name types.NamespacedName) {
	if f == nil || id == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.account(key, q)
	if t, ok := a.tracked[id]; !ok || t.name != name {
		a.tracked[id] = tracked{name: name, since: f.Clock.Now()}
	}
}

// Untrack forgets session id: it was released, or it ended and its resource knows.
func (f *Feed) Untrack(key browserbase.Sensitive, id string) {
	if f == nil || id == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.accounts[sha256.Sum256([]byte(key.Reveal()))]; ok {
		delete(a.tracked, id)
	}
}

// Lookup returns session id as the last list showed it, when that list is fresh (taken within
// two intervals) and was taken after the session was tracked. ok false: the feed cannot tell,
// and the caller reads the session itself. A nil session with ok true means the session was not
// running at that list: it is starting or has ended, and the caller reads it to learn which.
func (f *Feed) Lookup(key browserbase.Sensitive, id string) (sess *browserbase.Session, ok bool) {
	if f == nil {
		return nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, found := f.accounts[sha256.Sum256([]byte(key.Reveal()))]
	if !found || a.listedAt.IsZero() {
		return nil, false
	}
	now := f.Clock.Now()
	a.usedAt = now
	t, isTracked := a.tracked[id]
	if !isTracked || !a.listedAt.After(t.since) || now.Sub(a.listedAt) > 2*f.interval() {
		return nil, false
	}
	if s, running := a.running[id]; running {
		return &s, true
	}
	return nil, true
}

// Start lists every account each interval until ctx ends: it runs as a manager Runnable, on the
// leader only (it wakes reconcilers).
func (f *Feed) Start(ctx context.Context) error {
	ticker := f.Clock.NewTicker(f.interval())
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
			f.ListAll(ctx)
		}
	}
}

// NeedLeaderElection says that the feed runs on the leader only.
func (f *Feed) NeedLeaderElection() bool { return true }

// ListAll lists each account once, and drops the accounts that are no longer used.
func (f *Feed) ListAll(ctx context.Context) {
	f.mu.Lock()
	var todo []*account
	now := f.Clock.Now()
	for h, a := range f.accounts {
		if len(a.tracked) == 0 && now.Sub(a.usedAt) > idleAfter {
			delete(f.accounts, h)
			continue
		}
		todo = append(todo, a)
	}
	f.mu.Unlock()
	for _, a := range todo {
		f.list(ctx, a)
	}
}

// list takes one account's running sessions, wakes the resources whose session dropped out of
// them, and tells the queue how many run.
func (f *Feed) list(ctx context.Context, a *account) {
	at := f.Clock.Now()
	sessions, err := f.Browserbase.ListSessions(ctx, a.key, browserbase.ListOptions{Status: browserbase.StatusRunning})
	if err != nil {
		// The resources fall back to reading their sessions themselves (Lookup goes stale).
		log.FromContext(ctx).V(1).Info("Could not list running sessions; resources read their own", "error", err.Error())
		return
	}
	running := make(map[string]browserbase.Session, len(sessions))
	byNamespace := map[string]int{}
	for _, s := range sessions {
		running[s.ID] = s
		if ns := taggedNamespace(s); ns != "" {
			byNamespace[ns]++
		}
	}
	f.mu.Lock()
	var ended []types.NamespacedName
	for id, t := range a.tracked {
		_, was := a.running[id]
		if _, is := running[id]; was && !is {
			ended = append(ended, t.name)
		}
	}
	leaks := f.unknownLocked(a, running, at)
	a.running, a.listedAt = running, at
	queues := slices.Collect(maps.Keys(a.queues))
	f.mu.Unlock()

	if f.Live != nil {
		for _, q := range queues {
			f.Live(q, len(sessions), byNamespace, at)
		}
	}
	for _, name := range ended {
		f.Wake(name)
	}
	for _, l := range leaks {
		f.Unknown(l.uid, l.name)
	}
}

type leak struct {
	uid  types.UID
	name types.NamespacedName
}

// unknownLocked finds the sessions of this cluster that run, were running at the last list too,
// are older than LeakAge, and that no resource holds. Callers hold f.mu.
func (f *Feed) unknownLocked(a *account, running map[string]browserbase.Session, now time.Time) []leak {
	if f.Unknown == nil {
		return nil
	}
	if a.reported == nil {
		a.reported = map[string]bool{}
	}
	for id := range a.reported {
		if _, still := running[id]; !still {
			delete(a.reported, id)
		}
	}
	var out []leak
	for id, s := range running {
		_, held := a.tracked[id]
		_, before := a.running[id]
		if held || !before || a.reported[id] || now.Sub(s.CreatedAt) < f.LeakAge {
			continue
		}
		tag, _ := s.UserMetadata[v1alpha1.ReservedMetadataKey].(map[string]any)
		uid, _ := tag["uid"].(string)
		ns, _ := tag["namespace"].(string)
		name, _ := tag["name"].(string)
		cluster, hasCluster := tag["cluster"].(string)
		if uid == "" || name == "" || (hasCluster && cluster != f.ClusterID) {
			continue // not made by this operator, or by another cluster's
		}
		a.reported[id] = true
		out = append(out, leak{uid: types.UID(uid), name: types.NamespacedName{Namespace: ns, Name: name}})
	}
	return out
}

// taggedNamespace is the namespace of the resource a session is tagged with, "" if untagged.
func taggedNamespace(s browserbase.Session) string {
	tag, ok := s.UserMetadata[v1alpha1.ReservedMetadataKey].(map[string]any)
	if !ok {
		return ""
	}
	ns, _ := tag["namespace"].(string)
	return ns
}
