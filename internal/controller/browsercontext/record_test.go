package browsercontext

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/operator"
)

// A resource whose status records a context (status.idDigest) and whose Secret lost the id, or
// holds another: it stalls, and each way out the message names works. No context is ever
// created or deleted but the one asked for.
func TestRecordedContext(t *testing.T) {
	const (
		id    = "0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
		other = "7e8f9a0b-1c2d-4e3f-8a5b-6c7d8e9f0a1b"
	)
	// restoredSecret is the Secret as a person re-creates it: no owner, label or finalizer.
	restoredSecret := func(id string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "profile-browserbase-context"},
			Data:       map[string][]byte{SecretKeyContextID: []byte(id)},
		}
	}
	cases := map[string]struct {
		secret      func(bc *v1alpha1.BrowserContext) *corev1.Secret // nil: none
		forget      string                                           // the forget-context annotation; "digest" for the recorded one
		wantReason  string                                           // Stalled's; "" for Ready
		wantID      string                                           // in the Secret afterwards
		wantCreates int
		wantEvent   string
	}{
		"a lost Secret stalls": {
			wantReason: v1alpha1.ReasonContextSecretLost,
		},
		"a Secret without the key stalls": {
			secret:     func(bc *v1alpha1.BrowserContext) *corev1.Secret { return ownedSecret(bc, "") },
			wantReason: v1alpha1.ReasonContextSecretLost,
		},
		"a Secret re-created with the id is adopted": {
			secret: func(*v1alpha1.BrowserContext) *corev1.Secret { return restoredSecret(id) },
			wantID: id,
		},
		"a Secret re-created with another id is someone else's": {
			secret:     func(*v1alpha1.BrowserContext) *corev1.Secret { return restoredSecret(other) },
			wantReason: v1alpha1.ReasonSecretConflict, wantID: other,
		},
		"forgetting the lost context makes a new one": {
			forget: "digest", wantCreates: 1, wantEvent: "ContextForgotten",
		},
		"a stale forget annotation changes nothing": {
			forget: idDigest(other), wantReason: v1alpha1.ReasonContextSecretLost,
		},
		"an owned Secret whose id was swapped stalls": {
			secret:     func(bc *v1alpha1.BrowserContext) *corev1.Secret { return ownedSecret(bc, other) },
			wantReason: v1alpha1.ReasonContextIDMismatch, wantID: other,
		},
		"forgetting the recorded context takes the Secret's id": {
			secret: func(bc *v1alpha1.BrowserContext) *corev1.Secret { return ownedSecret(bc, other) },
			forget: "digest", wantID: other, wantEvent: "ContextForgotten",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bc := recorded(newBrowserContext("profile"), id)
			switch tc.forget {
			case "":
			case "digest":
				bc.Annotations = map[string]string{v1alpha1.AnnotationForgetContext: idDigest(id)}
			default:
				bc.Annotations = map[string]string{v1alpha1.AnnotationForgetContext: tc.forget}
			}
			objs := []client.Object{bc}
			if tc.secret != nil {
				objs = append(objs, tc.secret(bc))
			}
			c := newFakeClient(interceptor.Funcs{}, objs...)
			store := newContextStore(id, other)
			bb := store.client()
			r, events := newReconciler(c, bb)
			_, err := reconcileOnce(t, r, bc)
			if err != nil {
				t.Fatal(err)
			}
			mustGet(t, c, bc)
			if n := len(bb.CallsTo(browserbasetest.CreateContext)); n != tc.wantCreates {
				t.Errorf("%d creates, want %d", n, tc.wantCreates)
			}
			if n := len(bb.CallsTo(browserbasetest.DeleteContext)); n != 0 || !store.has(id) || !store.has(other) {
				t.Errorf("calls = %v, want no context deleted", bb.Calls())
			}
			if tc.wantEvent != "" && !slices.Contains(events.Reasons(), tc.wantEvent) {
				t.Errorf("events = %v, want %s", events.Reasons(), tc.wantEvent)
			}
			assertNoID(t, id, bc, events, err)
			assertNoID(t, other, bc, events, err)

			secret := ownedSecret(bc, "")
			getErr := c.Get(t.Context(), client.ObjectKeyFromObject(secret), secret)
			ready := condition(bc, v1alpha1.ConditionReady)
			if tc.wantReason != "" {
				stalled := condition(bc, v1alpha1.ConditionStalled)
				if stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != tc.wantReason {
					t.Fatalf("Stalled = %+v, want True with reason %s", stalled, tc.wantReason)
				}
				if tc.wantReason != v1alpha1.ReasonSecretConflict && !strings.Contains(stalled.Message, v1alpha1.AnnotationForgetContext+"="+idDigest(id)) {
					t.Errorf("Stalled message %q does not say how to forget the context", stalled.Message)
				}
				if bc.Status.IDDigest != idDigest(id) || bc.Status.RedactedID != "0d1f…" {
					t.Errorf("status = %+v, want the recorded context kept", bc.Status)
				}
				if tc.wantID != "" && string(secret.Data[SecretKeyContextID]) != tc.wantID {
					t.Errorf("Secret holds %q, want it left as it was", secret.Data[SecretKeyContextID])
				}
				return
			}
			if ready == nil || ready.Status != metav1.ConditionTrue {
				t.Fatalf("Ready = %+v, want True", ready)
			}
			if getErr != nil {
				t.Fatal(getErr)
			}
			got := string(secret.Data[SecretKeyContextID])
			if tc.wantID != "" && got != tc.wantID {
				t.Errorf("Secret holds %q, want %q", got, tc.wantID)
			}
			if bc.Status.IDDigest != idDigest(got) || bc.Status.RedactedID != redactID(got) {
				t.Errorf("status = %+v, want the digest and redaction of the Secret's id", bc.Status)
			}
			if !metav1.IsControlledBy(secret, bc) || secret.Labels[operator.ManagedByLabel] != operator.ManagedByValue ||
				!slices.Contains(secret.Finalizers, v1alpha1.ContextFinalizer) {
				t.Errorf("Secret metadata = %+v, want it controlled by the BrowserContext, labelled, with the finalizer", secret.ObjectMeta)
			}
		})
	}
}

func TestRedactID(t *testing.T) {
	for id, want := range map[string]string{
		"0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b": "0d1f…",
		"short":                                "…",
		"":                                     "…",
	} {
		if got := redactID(id); got != want {
			t.Errorf("redactID(%q) = %q, want %q", id, got, want)
		}
	}
	err := redactErr(&browserbase.APIError{Method: "GET", Path: "/v1/contexts/0d1f2a3b-4c5d", StatusCode: 404}, "0d1f2a3b-4c5d")
	if strings.Contains(err.Error(), "2a3b") || !browserbase.IsNotFound(err) {
		t.Errorf("redactErr = %v, want the id hidden and the status kept", err)
	}
	if !errors.Is(err, errors.Unwrap(err)) {
		t.Error("redactErr does not keep the error in the chain")
	}
}
