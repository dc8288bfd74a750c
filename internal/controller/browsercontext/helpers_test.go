package browsercontext

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// testNow is the fake clock's start: tests run at a fixed time, not the wall clock.
var testNow = controllertest.Now

const testNamespace = "ns"

var mustGet = controllertest.MustGet

// newFakeClient is a fake client set up as the manager's, with this controller's index too, and
// funcs intercepting its calls, holding objs.
func newFakeClient(funcs interceptor.Funcs, objs ...client.Object) client.WithWatch {
	return controllertest.FakeClientBuilder(funcs).WithIndex(&v1alpha1.BrowserContext{}, digestField, digestIndex).WithObjects(objs...).Build()
}

// newReconciler is a Reconciler on c and bb, with the default key and a fake clock.
func newReconciler(c client.Client, bb browserbase.ContextClient) (*Reconciler, *controllertest.Events) {
	events := &controllertest.Events{}
	return &Reconciler{
		Client:      c,
		APIReader:   c,
		Browserbase: bb,
		Credentials: &reconcile.Credentials{Reader: c, Default: controllertest.DefaultKey, RecheckInterval: time.Minute},
		Kit:         reconcile.Kit{Recorder: events, Clock: controllertest.FakeClock()},
	}, events
}

func newBrowserContext(name string) *v1alpha1.BrowserContext {
	return &v1alpha1.BrowserContext{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, UID: k8stypes.UID("uid-" + name), Generation: 1},
		Spec:       v1alpha1.BrowserContextSpec{DeletionPolicy: v1alpha1.DeletionPolicyDelete},
	}
}

// ownedSecret is bc's Secret holding id, as the operator writes it.
func ownedSecret(bc *v1alpha1.BrowserContext, id string) *corev1.Secret {
	isController := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: bc.Namespace, Name: SecretName(bc), Finalizers: []string{v1alpha1.ContextFinalizer},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "BrowserContext", Name: bc.Name, UID: bc.UID, Controller: &isController,
			}},
		},
		Data: map[string][]byte{SecretKeyContextID: []byte(id)},
	}
}

// namingSession is a BrowserSession that names the BrowserContext contextName.
func namingSession(name, contextName string) *v1alpha1.BrowserSession {
	return sessionUsing(name, v1alpha1.ContextReference{Name: contextName})
}

// idSession is a BrowserSession that gives the context id directly.
func idSession(name, id string) *v1alpha1.BrowserSession {
	return sessionUsing(name, v1alpha1.ContextReference{ID: id})
}

func sessionUsing(name string, ref v1alpha1.ContextReference) *v1alpha1.BrowserSession {
	return &v1alpha1.BrowserSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
		Spec:       v1alpha1.BrowserSessionSpec{BrowserSettings: &v1alpha1.BrowserSettings{Context: &ref}},
	}
}

// recorded is bc as the operator leaves it once its context, id, is created and recorded: the
// finalizer, and the id's digest and redaction in status.
func recorded(bc *v1alpha1.BrowserContext, id string) *v1alpha1.BrowserContext {
	bc.Finalizers = []string{v1alpha1.ContextFinalizer}
	bc.Status.IDDigest, bc.Status.RedactedID = idDigest(id), redactID(id)
	return bc
}

func reconcileOnce(t *testing.T, r *Reconciler, bc *v1alpha1.BrowserContext) (ctrl.Result, error) {
	t.Helper()
	return r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(bc)})
}

// assertNoID fails if id appears in bc's status, in an event, or in err.
func assertNoID(t *testing.T, id string, bc *v1alpha1.BrowserContext, events *controllertest.Events, err error) {
	t.Helper()
	status, _ := json.Marshal(bc.Status)
	if strings.Contains(string(status), id) {
		t.Errorf("status holds the context id: %s", status)
	}
	for _, e := range events.All() {
		if strings.Contains(e.Note, id) {
			t.Errorf("event %s holds the context id: %s", e.Reason, e.Note)
		}
	}
	if err != nil && strings.Contains(err.Error(), id) {
		t.Errorf("error holds the context id: %v", err)
	}
}

// writeLog records the writes made through a fake client, in order, as "VERB Kind[/status]".
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeLog) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, s)
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *corev1.Secret:
		return "Secret"
	case *v1alpha1.BrowserContext:
		return "BrowserContext"
	}
	return "?"
}

func (w *writeLog) funcs() interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			w.add("CREATE " + kindOf(obj))
			return c.Create(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			w.add("PATCH " + kindOf(obj))
			return c.Patch(ctx, obj, patch, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			w.add("PATCH " + kindOf(obj) + "/" + sub)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}
}

func condition(bc *v1alpha1.BrowserContext, typ string) *metav1.Condition {
	return meta.FindStatusCondition(bc.Status.Conditions, typ)
}
