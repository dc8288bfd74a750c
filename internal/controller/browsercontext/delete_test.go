package browsercontext

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
)

// The delete step: waits while a BrowserSession names the resource, then deletes the context
// (404 counts as deleted), or leaves it (Orphan, skip-release); then the Secret and the resource
// are let go.
func TestDelete(t *testing.T) {
	const id = "0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
	cases := map[string]struct {
		policy      v1alpha1.DeletionPolicy
		annotations map[string]string
		sessions    []client.Object
		known       bool // Browserbase knows the context
		noSecret    bool
		deleteErr   error
		wantDeletes int
		wantGone    bool
		wantEvent   string
		wantReason  string
		wantStalled bool
	}{
		"the context is deleted": {
			known: true, wantDeletes: 1, wantGone: true, wantEvent: "ContextDeleted",
		},
		"a context Browserbase no longer knows counts as deleted": {
			wantDeletes: 1, wantGone: true,
		},
		"Orphan keeps it": {
			policy: v1alpha1.DeletionPolicyOrphan, known: true, wantGone: true, wantEvent: "ContextOrphaned",
		},
		"skip-release lets it go without a call": {
			annotations: map[string]string{v1alpha1.AnnotationSkipRelease: "true"}, known: true, wantGone: true, wantEvent: "DeleteSkipped",
		},
		"never recorded: nothing to delete": {
			noSecret: true, wantGone: true,
		},
		"waits while BrowserSessions name it": {
			known: true,
			sessions: []client.Object{
				namingSession("scraper", "profile"), namingSession("other", "another-profile"), namingSession("checkout", "profile"),
			},
			wantReason: v1alpha1.ReasonContextInUse,
		},
		"Orphan does not wait for the BrowserSessions": {
			policy: v1alpha1.DeletionPolicyOrphan, known: true, sessions: []client.Object{namingSession("scraper", "profile")},
			wantGone: true, wantEvent: "ContextOrphaned",
		},
		"a rejected key stalls, naming the way out": {
			known: true, deleteErr: &browserbase.APIError{Method: "DELETE", Path: "/v1/contexts/" + id, StatusCode: http.StatusUnauthorized},
			wantDeletes: 1, wantReason: v1alpha1.ReasonCredentialsRejected, wantStalled: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bc := newBrowserContext("profile")
			bc.Finalizers = []string{v1alpha1.ContextFinalizer}
			bc.DeletionTimestamp = &metav1.Time{Time: testNow}
			bc.Annotations = tc.annotations
			if tc.policy != "" {
				bc.Spec.DeletionPolicy = tc.policy
			}
			objs := append([]client.Object{bc}, tc.sessions...)
			if !tc.noSecret {
				objs = append(objs, ownedSecret(bc, id))
			}
			c := newFakeClient(interceptor.Funcs{}, objs...)
			var store *contextStore
			if tc.known {
				store = newContextStore(id)
			} else {
				store = newContextStore()
			}
			bb := store.client()
			if tc.deleteErr != nil {
				bb.DeleteContextFn = func(context.Context, browserbase.Sensitive, string) error { return tc.deleteErr }
			}
			r, events := newReconciler(c, bb)
			result, err := reconcileOnce(t, r, bc)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(bb.CallsTo(browserbasetest.DeleteContext)); n != tc.wantDeletes {
				t.Errorf("%d deletes, want %d", n, tc.wantDeletes)
			}
			err = c.Get(context.Background(), client.ObjectKeyFromObject(bc), bc)
			if gone := apierrors.IsNotFound(err); gone != tc.wantGone {
				t.Fatalf("resource gone = %v (%v), want %v", gone, err, tc.wantGone)
			}
			if tc.wantEvent != "" && !slices.Contains(events.Reasons(), tc.wantEvent) {
				t.Errorf("events = %v, want %s", events.Reasons(), tc.wantEvent)
			}
			if !tc.noSecret {
				secret := ownedSecret(bc, id)
				mustGet(t, c, secret)
				if slices.Contains(secret.Finalizers, v1alpha1.ContextFinalizer) == tc.wantGone {
					t.Errorf("Secret finalizers = %v, want the context finalizer only while the resource stays", secret.Finalizers)
				}
			}
			if tc.wantGone {
				return
			}
			ready := condition(bc, v1alpha1.ConditionReady)
			if ready == nil || ready.Reason != tc.wantReason {
				t.Fatalf("Ready = %+v, want reason %s", ready, tc.wantReason)
			}
			if stalled := condition(bc, v1alpha1.ConditionStalled); (stalled != nil && stalled.Status == metav1.ConditionTrue) != tc.wantStalled {
				t.Errorf("Stalled = %+v, want stalled %v", stalled, tc.wantStalled)
			}
			if tc.wantStalled && !strings.Contains(ready.Message, v1alpha1.AnnotationSkipRelease) {
				t.Errorf("Ready message %q does not name %s", ready.Message, v1alpha1.AnnotationSkipRelease)
			}
			if tc.wantReason == v1alpha1.ReasonContextInUse {
				if reconciling := condition(bc, v1alpha1.ConditionReconciling); reconciling == nil || reconciling.Status != metav1.ConditionTrue ||
					!strings.Contains(reconciling.Message, "checkout, scraper") || strings.Contains(reconciling.Message, "other") {
					t.Errorf("Reconciling = %+v, want True naming checkout and scraper only", reconciling)
				}
				if result.RequeueAfter <= 0 {
					t.Errorf("result = %+v, want a requeue", result)
				}
			}
			assertNoID(t, id, bc, events, err)
		})
	}
}

// Once the last BrowserSession naming it is gone, a waiting deletion goes on.
func TestDeleteAfterSessionsGo(t *testing.T) {
	const id = "0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
	bc := newBrowserContext("profile")
	bc.Finalizers = []string{v1alpha1.ContextFinalizer}
	bc.DeletionTimestamp = &metav1.Time{Time: testNow}
	bs := namingSession("scraper", "profile")
	c := newFakeClient(interceptor.Funcs{}, bc, bs, ownedSecret(bc, id))
	store := newContextStore(id)
	bb := store.client()
	r, _ := newReconciler(c, bb)
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	if !store.has(id) {
		t.Fatal("the context was deleted while a BrowserSession names it")
	}
	if err := c.Delete(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	if store.has(id) {
		t.Error("the context was not deleted once no BrowserSession names it")
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(bc), bc); !apierrors.IsNotFound(err) {
		t.Errorf("Get = %v, want the resource gone", err)
	}
}
