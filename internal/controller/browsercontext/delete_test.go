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

// The delete step: waits while a BrowserSession uses the context, by the resource's name or by
// its id, then deletes the context (404 counts as deleted), or leaves it (Orphan, skip-release);
// then the Secret and the resource are let go. An id in the Secret other than the one the
// operator recorded is never deleted.
func TestDelete(t *testing.T) {
	const (
		id    = "0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
		other = "7e8f9a0b-1c2d-4e3f-8a5b-6c7d8e9f0a1b" // another context of the project, which Browserbase knows
	)
	cases := map[string]struct {
		policy      v1alpha1.DeletionPolicy
		annotations map[string]string
		sessions    []client.Object
		known       bool   // Browserbase knows the context
		noSecret    bool   // the Secret is gone
		unrecorded  bool   // status records no id (a resource from before status.idDigest)
		secretID    string // the id in the Secret, when not id
		deleteErr   error
		wantUsers   string // the BrowserSessions the wait names
		wantDeletes int
		wantGone    bool
		wantEvent   string
		wantReason  string
		wantStalled bool
	}{
		"a resource from before status.idDigest has its context deleted": {
			unrecorded: true, known: true, wantDeletes: 1, wantGone: true, wantEvent: "ContextDeleted",
		},
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
			noSecret: true, unrecorded: true, wantGone: true,
		},
		"an id lost with its Secret: the context is left, with a warning": {
			noSecret: true, known: true, wantGone: true, wantEvent: "ContextLeft",
		},
		"a Secret holding another id: that context is not deleted, and the resource stalls": {
			secretID: other, known: true, wantReason: v1alpha1.ReasonContextIDMismatch, wantStalled: true,
		},
		"a Secret holding another id, with skip-release: nothing is deleted": {
			secretID: other, known: true, annotations: map[string]string{v1alpha1.AnnotationSkipRelease: "true"},
			wantGone: true, wantEvent: "DeleteSkipped",
		},
		"waits while BrowserSessions name it": {
			known: true,
			sessions: []client.Object{
				namingSession("scraper", "profile"), namingSession("other", "another-profile"), namingSession("checkout", "profile"),
			},
			wantReason: v1alpha1.ReasonContextInUse, wantUsers: "checkout, scraper",
		},
		"waits while BrowserSessions give its id": {
			known: true,
			sessions: []client.Object{
				idSession("by-id", id), idSession("elsewhere", other), namingSession("by-name", "profile"), idSession("both", id),
			},
			wantReason: v1alpha1.ReasonContextInUse, wantUsers: "both, by-id, by-name",
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
			bc := recorded(newBrowserContext("profile"), id)
			if tc.unrecorded {
				bc.Status = v1alpha1.BrowserContextStatus{}
			}
			bc.DeletionTimestamp = &metav1.Time{Time: testNow}
			bc.Annotations = tc.annotations
			if tc.policy != "" {
				bc.Spec.DeletionPolicy = tc.policy
			}
			objs := append([]client.Object{bc}, tc.sessions...)
			secretID := id
			if tc.secretID != "" {
				secretID = tc.secretID
			}
			if !tc.noSecret {
				objs = append(objs, ownedSecret(bc, secretID))
			}
			c := newFakeClient(interceptor.Funcs{}, objs...)
			store := newContextStore(other)
			if tc.known {
				store = newContextStore(id, other)
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
			if n := len(bb.CallsTo(browserbasetest.DeleteContext)); n != tc.wantDeletes || !store.has(other) {
				t.Errorf("deletes = %v, want %d, of the resource's own context only", bb.CallsTo(browserbasetest.DeleteContext), tc.wantDeletes)
			}
			err = c.Get(context.Background(), client.ObjectKeyFromObject(bc), bc)
			if gone := apierrors.IsNotFound(err); gone != tc.wantGone {
				t.Fatalf("resource gone = %v (%v), want %v", gone, err, tc.wantGone)
			}
			if tc.wantEvent != "" && !slices.Contains(events.Reasons(), tc.wantEvent) {
				t.Errorf("events = %v, want %s", events.Reasons(), tc.wantEvent)
			}
			if !tc.noSecret {
				secret := ownedSecret(bc, secretID)
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
					!strings.Contains(reconciling.Message, ": "+tc.wantUsers+".") {
					t.Errorf("Reconciling = %+v, want True naming %s only", reconciling, tc.wantUsers)
				}
				if result.RequeueAfter <= 0 {
					t.Errorf("result = %+v, want a requeue", result)
				}
			}
			assertNoID(t, id, bc, events, err)
			assertNoID(t, other, bc, events, err)
		})
	}
}

// Once the last BrowserSession using it is gone, by name or by id, a waiting deletion goes on.
func TestDeleteAfterSessionsGo(t *testing.T) {
	const id = "0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
	bc := recorded(newBrowserContext("profile"), id)
	bc.DeletionTimestamp = &metav1.Time{Time: testNow}
	byName, byID := namingSession("scraper", "profile"), idSession("checkout", id)
	c := newFakeClient(interceptor.Funcs{}, bc, byName, byID, ownedSecret(bc, id))
	store := newContextStore(id)
	bb := store.client()
	r, _ := newReconciler(c, bb)
	for _, bs := range []*v1alpha1.BrowserSession{byName, byID} {
		if _, err := reconcileOnce(t, r, bc); err != nil {
			t.Fatal(err)
		}
		if !store.has(id) {
			t.Fatalf("the context was deleted while BrowserSession %s uses it", bs.Name)
		}
		if err := c.Delete(context.Background(), bs); err != nil {
			t.Fatal(err)
		}
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
