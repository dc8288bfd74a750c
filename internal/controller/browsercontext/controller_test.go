package browsercontext

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/operator"
)

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

// A new BrowserContext: the attempt is recorded (with the finalizer) before the create, the id
// goes to an owned Secret right after it, then status, which shows the id redacted only.
func TestCreateWritesSecretThenStatus(t *testing.T) {
	bc := newBrowserContext("profile")
	log := &writeLog{}
	c := newFakeClient(log.funcs(), bc)
	store := newContextStore()
	bb := store.client()
	r, events := newReconciler(c, bb)

	result, err := reconcileOnce(t, r, bc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"PATCH BrowserContext", "CREATE Secret", "PATCH BrowserContext/status"}, log.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if len(bb.CallsTo(browserbasetest.CreateContext)) != 1 {
		t.Fatalf("calls = %v, want one create", bb.Calls())
	}
	if result.RequeueAfter <= 0 {
		t.Errorf("result = %+v, want a requeue to read the new context", result)
	}

	mustGet(t, c, bc)
	secret := &corev1.Secret{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: testNamespace, Name: "profile-browserbase-context"}, secret); err != nil {
		t.Fatal(err)
	}
	id := string(secret.Data[SecretKeyContextID])
	if !store.has(id) {
		t.Fatalf("Secret holds %q, not the created context", id)
	}
	if !metav1.IsControlledBy(secret, bc) || secret.Labels[operator.ManagedByLabel] != operator.ManagedByValue ||
		!slices.Contains(secret.Finalizers, v1alpha1.ContextFinalizer) {
		t.Errorf("Secret metadata = %+v, want controlled by the BrowserContext, labelled, with the finalizer", secret.ObjectMeta)
	}
	if !slices.Contains(bc.Finalizers, v1alpha1.ContextFinalizer) || bc.Annotations[v1alpha1.AnnotationContextCreateAttemptedAt] == "" {
		t.Errorf("metadata = %+v, want the finalizer and the create-attempt annotation", bc.ObjectMeta)
	}
	if ready := condition(bc, v1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v, want True", ready)
	}
	want := v1alpha1.BrowserContextStatus{ObservedGeneration: 1, RedactedID: id[:4] + "…", SecretName: "profile-browserbase-context"}
	got := bc.Status
	got.Conditions = nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ContextCreated"}, events.Reasons()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	assertNoID(t, id, bc, events, err)

	// The next pass reads the context, fills status, and creates nothing.
	r.Clock.(interface{ Step(time.Duration) }).Step(afterCreate)
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, bc)
	if len(bb.CallsTo(browserbasetest.CreateContext)) != 1 || len(bb.CallsTo(browserbasetest.GetContext)) != 1 {
		t.Fatalf("calls = %v, want the one create and a get", bb.Calls())
	}
	if bc.Status.ProjectID != "proj-default" || bc.Status.CreatedAt == nil {
		t.Errorf("status = %+v, want projectId and createdAt from the get", bc.Status)
	}

	// Until the poll is due, passes make no call.
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	if n := len(bb.Calls()); n != 2 {
		t.Errorf("calls = %v, want no new call before the poll is due", bb.Calls())
	}
}

// A Secret write that fails after the create keeps the id in memory: the next pass writes it
// and creates nothing.
func TestSecretWriteRetriedWithoutCreate(t *testing.T) {
	bc := newBrowserContext("profile")
	failed := false
	c := newFakeClient(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*corev1.Secret); ok && !failed {
				failed = true
				return apierrors.NewServiceUnavailable("etcd is having a moment")
			}
			return c.Create(ctx, obj, opts...)
		},
	}, bc)
	store := newContextStore()
	bb := store.client()
	r, _ := newReconciler(c, bb)
	if _, err := reconcileOnce(t, r, bc); err == nil {
		t.Fatal("Reconcile succeeded, want the Secret write's error")
	}
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	if n := len(bb.CallsTo(browserbasetest.CreateContext)); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	secret := ownedSecret(bc, "")
	mustGet(t, c, secret)
	if !store.has(string(secret.Data[SecretKeyContextID])) {
		t.Errorf("Secret holds %q, want the created context", secret.Data[SecretKeyContextID])
	}
}

// An attempt annotation without an id in a Secret: the create's outcome was unknown, a context
// may have leaked, and another is made.
func TestLostCreateCreatesAgain(t *testing.T) {
	bc := newBrowserContext("profile")
	bc.Finalizers = []string{v1alpha1.ContextFinalizer}
	bc.Annotations = map[string]string{v1alpha1.AnnotationContextCreateAttemptedAt: testNow.Add(-time.Hour).Format(time.RFC3339)}
	c := newFakeClient(interceptor.Funcs{}, bc)
	bb := newContextStore().client()
	r, events := newReconciler(c, bb)
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	if n := len(bb.CallsTo(browserbasetest.CreateContext)); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	if diff := cmp.Diff([]string{"ContextMayHaveLeaked", "ContextCreated"}, events.Reasons()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Errors before and from the create: each is classified, and no context is made where none
// should be.
func TestCreateErrors(t *testing.T) {
	cases := map[string]struct {
		objs          []client.Object
		ref           *v1alpha1.APIKeySecretReference
		createErr     error
		wantCreates   int
		wantReason    string
		wantStalled   bool
		wantErr       bool
		wantAttemptAt bool
	}{
		"a Secret of that name that is someone else's stalls, before any call": {
			objs:       []client.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "profile-browserbase-context"}}},
			wantReason: v1alpha1.ReasonSecretConflict, wantStalled: true,
		},
		"a missing key Secret is waited for": {
			ref:        &v1alpha1.APIKeySecretReference{Name: "team-key"},
			wantReason: v1alpha1.ReasonCredentialsMissing,
		},
		"a rejected key stalls, and the attempt is cleared": {
			createErr:   &browserbase.APIError{Method: "POST", Path: "/v1/contexts", StatusCode: http.StatusUnauthorized, Message: "Unauthorized"},
			wantCreates: 1, wantReason: v1alpha1.ReasonCredentialsRejected, wantStalled: true,
		},
		"a rate limit waits": {
			createErr:   &browserbase.APIError{Method: "POST", Path: "/v1/contexts", StatusCode: http.StatusTooManyRequests, RetryAfter: time.Second},
			wantCreates: 1, wantReason: v1alpha1.ReasonRateLimited,
		},
		"a 5xx backs off, and the attempt stays: the outcome is unknown": {
			createErr:   &browserbase.APIError{Method: "POST", Path: "/v1/contexts", StatusCode: http.StatusBadGateway},
			wantCreates: 1, wantReason: v1alpha1.ReasonBrowserbaseUnavailable, wantErr: true, wantAttemptAt: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bc := newBrowserContext("profile")
			bc.Spec.APIKeySecretRef = tc.ref
			c := newFakeClient(interceptor.Funcs{}, append(tc.objs, bc)...)
			bb := newContextStore().client()
			if tc.createErr != nil {
				bb.CreateContextFn = func(context.Context, browserbase.Sensitive, string) (*browserbase.Context, error) {
					return nil, tc.createErr
				}
			}
			r, _ := newReconciler(c, bb)
			_, err := reconcileOnce(t, r, bc)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Reconcile error = %v, want error %v", err, tc.wantErr)
			}
			mustGet(t, c, bc)
			if n := len(bb.CallsTo(browserbasetest.CreateContext)); n != tc.wantCreates {
				t.Errorf("%d creates, want %d", n, tc.wantCreates)
			}
			ready := condition(bc, v1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %+v, want False with reason %s", ready, tc.wantReason)
			}
			if stalled := condition(bc, v1alpha1.ConditionStalled); (stalled != nil && stalled.Status == metav1.ConditionTrue) != tc.wantStalled {
				t.Errorf("Stalled = %+v, want stalled %v", stalled, tc.wantStalled)
			}
			if _, ok := bc.Annotations[v1alpha1.AnnotationContextCreateAttemptedAt]; ok != tc.wantAttemptAt {
				t.Errorf("annotations = %v, want the create attempt recorded: %v", bc.Annotations, tc.wantAttemptAt)
			}
		})
	}
}

// Reading the context: a 404 stalls (a new context would be empty), and errors never show the
// id, though Browserbase's name it in the path.
func TestObserve(t *testing.T) {
	const id = "0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
	cases := map[string]struct {
		getErr      error
		wantReason  string
		wantStalled bool
		wantErr     bool
	}{
		"a context Browserbase no longer knows stalls": {
			getErr: browserbasetest.ContextNotFound("GET", id), wantReason: v1alpha1.ReasonContextNotFound, wantStalled: true,
		},
		"a rejected key stalls, looked at again": {
			getErr:     &browserbase.APIError{Method: "GET", Path: "/v1/contexts/" + id, StatusCode: http.StatusUnauthorized, Message: "Unauthorized"},
			wantReason: v1alpha1.ReasonCredentialsRejected, wantStalled: true,
		},
		"a 5xx backs off, its message redacted": {
			getErr:     &browserbase.APIError{Method: "GET", Path: "/v1/contexts/" + id, StatusCode: http.StatusInternalServerError, Message: "context " + id + " is sad"},
			wantReason: v1alpha1.ReasonBrowserbaseUnavailable, wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bc := newBrowserContext("profile")
			bc.Finalizers = []string{v1alpha1.ContextFinalizer}
			c := newFakeClient(interceptor.Funcs{}, bc, ownedSecret(bc, id))
			bb := newContextStore(id).client()
			bb.GetContextFn = func(context.Context, browserbase.Sensitive, string) (*browserbase.Context, error) {
				return nil, tc.getErr
			}
			r, events := newReconciler(c, bb)
			result, err := reconcileOnce(t, r, bc)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Reconcile error = %v, want error %v", err, tc.wantErr)
			}
			mustGet(t, c, bc)
			ready := condition(bc, v1alpha1.ConditionReady)
			if ready == nil || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %+v, want reason %s", ready, tc.wantReason)
			}
			if stalled := condition(bc, v1alpha1.ConditionStalled); (stalled != nil && stalled.Status == metav1.ConditionTrue) != tc.wantStalled {
				t.Errorf("Stalled = %+v, want stalled %v", stalled, tc.wantStalled)
			}
			if tc.wantStalled && result.RequeueAfter != DefaultPollInterval {
				t.Errorf("result = %+v, want a look again at the poll interval", result)
			}
			if len(bb.CallsTo(browserbasetest.CreateContext)) != 0 {
				t.Errorf("calls = %v, want no create", bb.Calls())
			}
			if !strings.Contains(ready.Message, "0d1f…") && tc.wantReason != v1alpha1.ReasonCredentialsRejected {
				t.Errorf("Ready message %q does not name the context by its redacted id", ready.Message)
			}
			assertNoID(t, id, bc, events, err)
		})
	}
}

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

// A Secret someone deletes while the resource stays is kept by the finalizer, and the resource
// stalls: a person chooses between deleting the context and forgetting it.
func TestSecretBeingDeletedStalls(t *testing.T) {
	const id = "0d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
	bc := newBrowserContext("profile")
	bc.Finalizers = []string{v1alpha1.ContextFinalizer}
	secret := ownedSecret(bc, id)
	secret.DeletionTimestamp = &metav1.Time{Time: testNow}
	c := newFakeClient(interceptor.Funcs{}, bc, secret)
	bb := newContextStore(id).client()
	r, events := newReconciler(c, bb)
	_, err := reconcileOnce(t, r, bc)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, bc)
	if stalled := condition(bc, v1alpha1.ConditionStalled); stalled == nil || stalled.Reason != v1alpha1.ReasonSecretDeleting {
		t.Errorf("Stalled = %+v, want reason %s", stalled, v1alpha1.ReasonSecretDeleting)
	}
	if len(bb.CallsTo(browserbasetest.CreateContext)) != 0 {
		t.Errorf("calls = %v, want no create", bb.Calls())
	}
	assertNoID(t, id, bc, events, err)
}
