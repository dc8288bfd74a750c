package reconcile

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ByUID is what a reconciler remembers of each resource between passes (connect details not yet
// in a Secret, when to sweep next, the digests of a Secret): a map guarded by a mutex, safe for
// parallel reconciles. The zero value is ready. Register it with a Memory so that an entry is
// forgotten when its resource goes, whichever way it goes.
type ByUID[T any] struct {
	mu sync.Mutex
	m  map[types.UID]T
}

// Get returns what is remembered of uid.
func (b *ByUID[T]) Get(uid types.UID) (T, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[uid]
	return v, ok
}

// Set remembers v for uid.
func (b *ByUID[T]) Set(uid types.UID, v T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[types.UID]T{}
	}
	b.m[uid] = v
}

// Update replaces uid's entry, atomically, with what change returns from the current one (the
// zero value and false when there is none); change returning keep false forgets the entry.
func (b *ByUID[T]) Update(uid types.UID, change func(v T, ok bool) (next T, keep bool)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[uid]
	next, keep := change(v, ok)
	if !keep {
		delete(b.m, uid)
		return
	}
	if b.m == nil {
		b.m = map[types.UID]T{}
	}
	b.m[uid] = next
}

// Forget drops what is remembered of uid.
func (b *ByUID[T]) Forget(uid types.UID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, uid)
}

// Len is the number of resources remembered.
func (b *ByUID[T]) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// A Forgetter forgets what it remembers of a resource.
type Forgetter interface{ Forget(uid types.UID) }

// Memory ties a reconciler's per-resource state to the resources themselves: it learns each
// resource's UID when a pass starts (Seen), and when a later pass finds the resource gone (Gone),
// or a new object under the same name, every registered state forgets the old UID. Without it a
// resource deleted while the manager was down, or by a person removing the finalizer, would
// stay in memory for as long as the manager runs. The zero value is ready.
type Memory struct {
	mu     sync.Mutex
	uids   map[types.NamespacedName]types.UID
	states []Forgetter
}

// Register adds states to forget with their resources.
func (m *Memory) Register(states ...Forgetter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states = append(m.states, states...)
}

// Seen records obj's UID under its name; an older object of that name is forgotten.
func (m *Memory) Seen(obj client.Object) {
	key := client.ObjectKeyFromObject(obj)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.uids == nil {
		m.uids = map[types.NamespacedName]types.UID{}
	}
	if old, ok := m.uids[key]; ok && old != obj.GetUID() {
		m.forgetLocked(old)
	}
	m.uids[key] = obj.GetUID()
}

// Gone forgets the resource last seen under key.
func (m *Memory) Gone(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if uid, ok := m.uids[key]; ok {
		m.forgetLocked(uid)
		delete(m.uids, key)
	}
}

// Tracked is the number of resources the memory knows by name.
func (m *Memory) Tracked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.uids)
}

func (m *Memory) forgetLocked(uid types.UID) {
	for _, s := range m.states {
		s.Forget(uid)
	}
}

// Fetch reads the resource of req into obj and keeps the memory in step with it: a resource that
// is gone is forgotten, one that is found is remembered under its name. It reports whether
// there is a resource to reconcile.
func (m *Memory) Fetch(ctx context.Context, c client.Reader, req ctrl.Request, obj client.Object) (bool, error) {
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			m.Gone(req.NamespacedName)
			return false, nil
		}
		return false, err
	}
	m.Seen(obj)
	return true, nil
}

// Release removes finalizer from obj, the last step of its deletion, and forgets it.
func (m *Memory) Release(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	if err := RemoveFinalizer(ctx, c, obj, finalizer); err != nil {
		return err
	}
	m.Gone(client.ObjectKeyFromObject(obj))
	return nil
}
