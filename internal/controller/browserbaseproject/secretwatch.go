package browserbaseproject

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/internal/project"
)

// A SecretWatch watches the Secrets that projects name for their keys: one metadata-only watch
// per Secret, selected by name, so that the operator neither holds every Secret of the cluster
// nor reads a key it does not use, and a key that appears or changes reaches its projects within
// seconds. The key itself is read by the reconciler, through the API reader.
type SecretWatch struct {
	client metadata.Interface
	// done closes when the manager stops: every watch stops with it.
	done chan struct{}

	mu       sync.Mutex
	watches  map[client.ObjectKey]*secretWatch
	byRef    map[project.Ref]client.ObjectKey
	notifyFn map[string]func(project.Ref) // by project kind
}

type secretWatch struct {
	refs map[project.Ref]struct{}
	stop chan struct{}
}

// NewSecretWatch watches Secrets through c.
func NewSecretWatch(c metadata.Interface) *SecretWatch {
	return &SecretWatch{client: c, done: make(chan struct{}), watches: map[client.ObjectKey]*secretWatch{},
		byRef: map[project.Ref]client.ObjectKey{}, notifyFn: map[string]func(project.Ref){}}
}

// Start runs until ctx ends, then stops every watch: a manager Runnable, on the leader only, as
// the project controllers that start the watches.
func (w *SecretWatch) Start(ctx context.Context) error {
	<-ctx.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.done)
	for key, sw := range w.watches {
		close(sw.stop)
		delete(w.watches, key)
	}
	w.byRef = map[project.Ref]client.ObjectKey{}
	return nil
}

// notify sets how projects of kind are woken.
func (w *SecretWatch) notify(kind string, fn func(project.Ref)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.notifyFn[kind] = fn
}

// Ensure watches the Secret namespace/name for ref, and stops watching the one ref named before.
func (w *SecretWatch) Ensure(ref project.Ref, namespace, name string) {
	if w == nil {
		return
	}
	key := client.ObjectKey{Namespace: namespace, Name: name}
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		return // stopped with the manager
	default:
	}
	if old, ok := w.byRef[ref]; ok {
		if old == key {
			return
		}
		w.dropLocked(ref, old)
	}
	w.byRef[ref] = key
	sw, ok := w.watches[key]
	if !ok {
		sw = &secretWatch{refs: map[project.Ref]struct{}{}, stop: make(chan struct{})}
		w.watches[key] = sw
		w.start(key, sw)
	}
	sw.refs[ref] = struct{}{}
}

// Release stops watching for ref.
func (w *SecretWatch) Release(ref project.Ref) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if key, ok := w.byRef[ref]; ok {
		w.dropLocked(ref, key)
		delete(w.byRef, ref)
	}
}

// Watched is the number of Secrets watched.
func (w *SecretWatch) Watched() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watches)
}

func (w *SecretWatch) dropLocked(ref project.Ref, key client.ObjectKey) {
	sw, ok := w.watches[key]
	if !ok {
		return
	}
	delete(sw.refs, ref)
	if len(sw.refs) == 0 {
		close(sw.stop)
		delete(w.watches, key)
	}
}

// start runs the watch of one Secret until sw.stop is closed.
func (w *SecretWatch) start(key client.ObjectKey, sw *secretWatch) {
	selector := fields.OneTermEqualSelector("metadata.name", key.Name).String()
	informer := metadatainformer.NewFilteredMetadataInformer(w.client, corev1.SchemeGroupVersion.WithResource("secrets"),
		key.Namespace, 0, toolscache.Indexers{}, func(o *metav1.ListOptions) { o.FieldSelector = selector })
	wake := func(any) { w.wake(key) }
	_, _ = informer.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    wake,
		UpdateFunc: func(_, obj any) { wake(obj) },
		DeleteFunc: wake,
	})
	go informer.Informer().Run(sw.stop)
}

// wake wakes every project that names the Secret key.
func (w *SecretWatch) wake(key client.ObjectKey) {
	w.mu.Lock()
	var refs []project.Ref
	if sw, ok := w.watches[key]; ok {
		for ref := range sw.refs {
			refs = append(refs, ref)
		}
	}
	fns := w.notifyFn
	w.mu.Unlock()
	for _, ref := range refs {
		if fn := fns[ref.Kind]; fn != nil {
			fn(ref)
		}
	}
}
