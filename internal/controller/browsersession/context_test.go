package browsersession

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// A session names a BrowserContext: it is created with the id from the context's Secret once the
// context is Ready, and waits (never stalls, never says the id) until then.
func TestContextID(t *testing.T) {
	ready := func(generation, observed int64) *v1alpha1.BrowserContext {
		return &v1alpha1.BrowserContext{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "profile", Generation: generation},
			Status: v1alpha1.BrowserContextStatus{
				ObservedGeneration: observed, SecretName: "profile-browserbase-context",
				Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "ContextReady"}},
			},
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "profile-browserbase-context"},
		Data:       map[string][]byte{v1alpha1.ContextIDSecretKey: []byte("ctx-secret-id\n")},
	}
	cases := map[string]struct {
		ref      v1alpha1.ContextReference
		objs     []client.Object
		wantID   string
		wantWait bool
	}{
		"an id is used as it is":               {ref: v1alpha1.ContextReference{ID: "ctx-given"}, wantID: "ctx-given"},
		"a Ready context's id from its Secret": {ref: v1alpha1.ContextReference{Name: "profile"}, objs: []client.Object{ready(1, 1), secret}, wantID: "ctx-secret-id"},
		"a missing context is waited for":      {ref: v1alpha1.ContextReference{Name: "profile"}, wantWait: true},
		"a context not yet observed is waited for": {
			ref: v1alpha1.ContextReference{Name: "profile"}, objs: []client.Object{ready(2, 1), secret}, wantWait: true,
		},
		"a Ready context's id that matches its recorded digest": {
			ref: v1alpha1.ContextReference{Name: "profile"}, objs: []client.Object{withDigest(ready(1, 1), "ctx-secret-id"), secret}, wantID: "ctx-secret-id",
		},
		"an id swapped into the context's Secret is not loaded": {
			ref: v1alpha1.ContextReference{Name: "profile"}, objs: []client.Object{withDigest(ready(1, 1), "ctx-created"), secret}, wantWait: true,
		},
		"a Ready context whose Secret is gone is waited for": {
			ref: v1alpha1.ContextReference{Name: "profile"}, objs: []client.Object{ready(1, 1)}, wantWait: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newFakeClient(tc.objs...)
			r := &Reconciler{Client: c, APIReader: c, Credentials: &reconcile.Credentials{Reader: c, RecheckInterval: time.Minute}}
			bs := &v1alpha1.BrowserSession{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs"},
				Spec:       v1alpha1.BrowserSessionSpec{BrowserSettings: &v1alpha1.BrowserSettings{Context: &tc.ref}},
			}
			id, err := r.contextID(context.Background(), bs)
			wait, isWait := errors.AsType[*reconcile.WaitError](err)
			if tc.wantWait {
				if !isWait || wait.Reason != v1alpha1.ReasonContextNotReady {
					t.Fatalf("err = %v, want a %s wait", err, v1alpha1.ReasonContextNotReady)
				}
				if strings.Contains(wait.Message, "ctx-secret-id") {
					t.Errorf("message %q reveals the context id", wait.Message)
				}
				return
			}
			if err != nil || id != tc.wantID {
				t.Fatalf("contextID = %q, %v; want %q", id, err, tc.wantID)
			}
		})
	}

	t.Run("the create request carries the id and persist", func(t *testing.T) {
		c := newFakeClient(ready(1, 1), secret)
		r := &Reconciler{Client: c, APIReader: c, Credentials: &reconcile.Credentials{Reader: c}}
		bs := &v1alpha1.BrowserSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "uid-1"},
			Spec: v1alpha1.BrowserSessionSpec{BrowserSettings: &v1alpha1.BrowserSettings{
				Context: &v1alpha1.ContextReference{Name: "profile", Persist: ptr.To(true)},
			}},
		}
		req, err := r.createRequest(context.Background(), bs, nil, "0123456789abcdef")
		if err != nil {
			t.Fatal(err)
		}
		if c := req.BrowserSettings.Context; c == nil || c.ID != "ctx-secret-id" || c.Persist == nil || !*c.Persist {
			t.Errorf("request context %+v, want the Secret's id with persist", c)
		}
	})
}

// withDigest records id's digest in bc's status, as the BrowserContext controller does.
func withDigest(bc *v1alpha1.BrowserContext, id string) *v1alpha1.BrowserContext {
	bc.Status.IDDigest = operator.ContextIDDigest(id)
	return bc
}
