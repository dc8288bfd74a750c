package faults

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// history is what the API server showed of the suite's resources over the run, from watches:
// the highest status.revision each BrowserSession reached (a deleted one's too), the session ids
// its status and its Secret named in turn, and when each resource was gone. The counts need it
// because the end state forgets deleted resources and every intermediate write.
type history struct {
	mu       sync.Mutex
	sessions map[types.UID]*sessionRecord
	contexts map[types.UID]*contextRecord
	secrets  map[types.UID]*secretRecord // by the UID of the resource that controls the Secret
	projects map[types.NamespacedName]*projectRecord
}

type sessionRecord struct {
	namespace, name string
	podUID          types.UID // a Pod's BrowserSession's label browserbase.io/pod-uid
	maxRevision     int64
	ids             []string  // status.id values in the order written, without repeats or ""
	goneAt          time.Time // when the watch saw it deleted (finalizer gone); zero while it exists
	readyAt         time.Time // when the watch first saw it Ready; zero until then
	maxQueuePos     int32     // the highest status.queuePosition it showed
	stalled         bool      // it was seen Stalled
	// minLearned is the lowest creation limit its Ready message said the queue had learned
	// from a 429 while it waited (0: none seen). Read from the message, for want of a field:
	// a message that changes its words is only not seen.
	minLearned int
}

// learnedLimit matches the queue's message for a creation limit learned from a 429.
var learnedLimit = regexp.MustCompile(`at most (\d+) creates a minute \(learned from a 429\)`)

// projectRecord is what the watch saw of a BrowserbaseProject: when it was first Ready, how many
// times it left Ready afterwards, and whether it was ever Stalled.
type projectRecord struct {
	readyAt   time.Time
	ready     bool
	notReady  int
	stalled   bool
	lastLimit int32 // status.createsPerMinuteLimit last seen
	minLimit  int32 // the lowest non-zero status.createsPerMinuteLimit seen
}

type contextRecord struct {
	namespace, name string
	goneAt          time.Time
}

type secretRecord struct {
	ownerKind string
	values    []string // sessionId (BrowserSession) or contextId (BrowserContext), in order, without repeats
}

func newHistory() *history {
	return &history{
		sessions: map[types.UID]*sessionRecord{},
		contexts: map[types.UID]*contextRecord{},
		secrets:  map[types.UID]*secretRecord{},
		projects: map[types.NamespacedName]*projectRecord{},
	}
}

// start watches BrowserSessions, BrowserContexts, BrowserbaseProjects and Secrets in every
// namespace until ctx ends.
func (h *history) start(ctx context.Context, c client.WithWatch) {
	go watchAll(ctx, c, &v1alpha1.BrowserSessionList{}, h.session)
	go watchAll(ctx, c, &v1alpha1.BrowserContextList{}, h.context)
	go watchAll(ctx, c, &v1alpha1.BrowserbaseProjectList{}, h.project)
	go watchAll(ctx, c, &corev1.SecretList{}, h.secret)
}

func ours(ns string) bool { return strings.HasPrefix(ns, namespace) }

func (h *history) session(t watch.EventType, obj client.Object) {
	bs, ok := obj.(*v1alpha1.BrowserSession)
	if !ok || !ours(bs.Namespace) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := h.sessions[bs.UID]
	if rec == nil {
		rec = &sessionRecord{namespace: bs.Namespace, name: bs.Name}
		h.sessions[bs.UID] = rec
	}
	if uid := bs.Labels[v1alpha1.LabelPodUID]; uid != "" {
		rec.podUID = types.UID(uid)
	}
	rec.maxRevision = max(rec.maxRevision, bs.Status.Revision)
	if id := bs.Status.ID; id != "" && (len(rec.ids) == 0 || rec.ids[len(rec.ids)-1] != id) {
		rec.ids = append(rec.ids, id)
	}
	if t == watch.Deleted && rec.goneAt.IsZero() {
		rec.goneAt = time.Now()
	}
	if rec.readyAt.IsZero() && meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
		rec.readyAt = time.Now()
	}
	rec.maxQueuePos = max(rec.maxQueuePos, bs.Status.QueuePosition)
	if meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionStalled) {
		rec.stalled = true
	}
	if c := meta.FindStatusCondition(bs.Status.Conditions, v1alpha1.ConditionReady); c != nil {
		if m := learnedLimit.FindStringSubmatch(c.Message); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && (rec.minLearned == 0 || n < rec.minLearned) {
				rec.minLearned = n
			}
		}
	}
}

func (h *history) project(_ watch.EventType, obj client.Object) {
	p, ok := obj.(*v1alpha1.BrowserbaseProject)
	if !ok || !ours(p.Namespace) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	rec := h.projects[key]
	if rec == nil {
		rec = &projectRecord{}
		h.projects[key] = rec
	}
	ready := meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionReady)
	switch {
	case ready && rec.readyAt.IsZero():
		rec.readyAt = time.Now()
	case !ready && rec.ready:
		rec.notReady++
	}
	rec.ready = ready
	if meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionStalled) {
		rec.stalled = true
	}
	rec.lastLimit = p.Status.CreatesPerMinuteLimit
	if l := p.Status.CreatesPerMinuteLimit; l > 0 && (rec.minLimit == 0 || l < rec.minLimit) {
		rec.minLimit = l
	}
}

// projectSnapshot copies what is recorded of the BrowserbaseProject key.
func (h *history) projectSnapshot(key types.NamespacedName) projectRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.projects[key]; r != nil {
		return *r
	}
	return projectRecord{}
}

func (h *history) context(t watch.EventType, obj client.Object) {
	bc, ok := obj.(*v1alpha1.BrowserContext)
	if !ok || !ours(bc.Namespace) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := h.contexts[bc.UID]
	if rec == nil {
		rec = &contextRecord{namespace: bc.Namespace, name: bc.Name}
		h.contexts[bc.UID] = rec
	}
	if t == watch.Deleted && rec.goneAt.IsZero() {
		rec.goneAt = time.Now()
	}
}

// secret records which session or context id each operator Secret held, in turn. The values stay
// in this process's memory: nothing here prints them.
func (h *history) secret(_ watch.EventType, obj client.Object) {
	s, ok := obj.(*corev1.Secret)
	if !ok || !ours(s.Namespace) {
		return
	}
	owner := metav1.GetControllerOf(s)
	if owner == nil {
		return
	}
	var value string
	switch owner.Kind {
	case "BrowserSession":
		value = string(s.Data["sessionId"])
	case "BrowserContext":
		value = string(s.Data[v1alpha1.ContextIDSecretKey])
	default:
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := h.secrets[owner.UID]
	if rec == nil {
		rec = &secretRecord{ownerKind: owner.Kind}
		h.secrets[owner.UID] = rec
	}
	if value != "" && (len(rec.values) == 0 || rec.values[len(rec.values)-1] != value) {
		rec.values = append(rec.values, value)
	}
}

// snapshot copies what is recorded, for counting without holding the lock.
func (h *history) snapshot() (map[types.UID]sessionRecord, map[types.UID]contextRecord, map[types.UID]secretRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sessions := map[types.UID]sessionRecord{}
	for uid, r := range h.sessions {
		c := *r
		c.ids = append([]string(nil), r.ids...)
		sessions[uid] = c
	}
	contexts := map[types.UID]contextRecord{}
	for uid, r := range h.contexts {
		contexts[uid] = *r
	}
	secrets := map[types.UID]secretRecord{}
	for uid, r := range h.secrets {
		c := *r
		c.values = append([]string(nil), r.values...)
		secrets[uid] = c
	}
	return sessions, contexts, secrets
}

// watchAll lists, then watches from the list's resourceVersion, handing every object to handle,
// until ctx ends. A watch that closes is resumed from the last version seen; one whose version
// expired (410) lists again, which can skip intermediate writes (not expected within a run).
func watchAll(ctx context.Context, c client.WithWatch, list client.ObjectList, handle func(watch.EventType, client.Object)) {
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			l := list.DeepCopyObject().(client.ObjectList)
			if err := c.List(ctx, l); err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			items, _ := meta.ExtractList(l)
			for _, o := range items {
				if obj, ok := o.(client.Object); ok {
					handle(watch.Added, obj)
				}
			}
			rv = l.GetResourceVersion()
		}
		w, err := c.Watch(ctx, list.DeepCopyObject().(client.ObjectList),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				if err := apierrors.FromObject(ev.Object); apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					rv = ""
				}
				break
			}
			obj, ok := ev.Object.(client.Object)
			if !ok {
				continue
			}
			rv = obj.GetResourceVersion()
			if ev.Type != watch.Bookmark {
				handle(ev.Type, obj)
			}
		}
		w.Stop()
	}
}
