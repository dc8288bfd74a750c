package browsercontext

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/operator"
)

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
	want := v1alpha1.BrowserContextStatus{ObservedGeneration: 1, RedactedID: id[:4] + "…", SecretName: "profile-browserbase-context", IDDigest: idDigest(id)}
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

// After a successful create, the attempt annotation is cleared once the id's digest is in
// status, and a Secret lost afterwards does not make a new, empty context: the resource stalls,
// keeping the old context's redacted id and saying how to recover, and no ContextMayHaveLeaked
// warning is given (nothing leaked).
func TestSecretLostAfterCreateDoesNotCreateAgain(t *testing.T) {
	bc := newBrowserContext("profile")
	c := newFakeClient(interceptor.Funcs{}, bc)
	bb := newContextStore().client()
	r, events := newReconciler(c, bb)
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	secret := ownedSecret(bc, "")
	mustGet(t, c, secret)
	id := string(secret.Data[SecretKeyContextID])
	mustGet(t, c, bc)
	if bc.Status.IDDigest != idDigest(id) {
		t.Fatalf("status.idDigest = %q, want the digest of the created id", bc.Status.IDDigest)
	}

	// The next pass finds the digest recorded, and clears the attempt.
	r.Clock.(interface{ Step(time.Duration) }).Step(afterCreate)
	if _, err := reconcileOnce(t, r, bc); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, bc)
	if at, ok := bc.Annotations[v1alpha1.AnnotationContextCreateAttemptedAt]; ok {
		t.Fatalf("create-attempt annotation %q still there after the id was recorded", at)
	}

	// Someone removes the Secret's finalizer and deletes it.
	secret.Finalizers = nil
	if err := c.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	result, err := reconcileOnce(t, r, bc)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, bc)
	if n := len(bb.CallsTo(browserbasetest.CreateContext)); n != 1 {
		t.Errorf("%d creates, want the first only", n)
	}
	if slices.Contains(events.Reasons(), "ContextMayHaveLeaked") {
		t.Errorf("events = %v, want no ContextMayHaveLeaked: the create's answer was not lost", events.Reasons())
	}
	stalled := condition(bc, v1alpha1.ConditionStalled)
	if stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != v1alpha1.ReasonContextSecretLost {
		t.Fatalf("Stalled = %+v, want True with reason %s", stalled, v1alpha1.ReasonContextSecretLost)
	}
	for _, want := range []string{"re-create the Secret", v1alpha1.AnnotationForgetContext + "=" + idDigest(id), id[:4] + "…"} {
		if !strings.Contains(stalled.Message, want) {
			t.Errorf("Stalled message %q does not say %q", stalled.Message, want)
		}
	}
	if bc.Status.RedactedID != id[:4]+"…" || bc.Status.IDDigest != idDigest(id) {
		t.Errorf("status = %+v, want the lost context's redacted id and digest kept", bc.Status)
	}
	if result.RequeueAfter != DefaultPollInterval {
		t.Errorf("result = %+v, want a look again at the poll interval", result)
	}
	assertNoID(t, id, bc, events, err)
}
