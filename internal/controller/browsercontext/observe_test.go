package browsercontext

import (
	"context"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
)

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
