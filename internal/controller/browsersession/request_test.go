package browsersession

import (
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
)

func TestJSONLengthCountsAsJavaScriptDoes(t *testing.T) {
	cases := map[string]struct {
		in   any
		want int
	}{
		"ascii":                         {map[string]any{"a": "b"}, len(`{"a":"b"}`)},
		"html characters not escaped":   {map[string]any{"a": "<&>"}, len(`{"a":"<&>"}`)},
		"astral characters count twice": {map[string]any{"a": "😀"}, len(`{"a":""}`) + 2},
		"quotes escaped":                {map[string]any{"a": `"`}, len(`{"a":"\""}`)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := jsonLength(tc.in); got != tc.want {
				t.Errorf("jsonLength(%v) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

// A Secret name the API server would refuse is caught before the create, not after the session
// is paid for.
func TestCreateRequestRefusesAnUnwritableSecretName(t *testing.T) {
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: strings.Repeat("a", 250), UID: "uid-1"}}
	r := &Reconciler{}
	_, err := r.createRequest(context.Background(), bs, nil, "0123456789abcdef")
	if stall, ok := errors.AsType[*reconcile.StallError](err); !ok || stall.Reason != v1alpha1.ReasonInvalidSpec {
		t.Fatalf("createRequest = %v, want an %s stall", err, v1alpha1.ReasonInvalidSpec)
	}
	bs.Spec.SecretName = "fits"
	if _, err := r.createRequest(context.Background(), bs, nil, "0123456789abcdef"); err != nil {
		t.Fatalf("with spec.secretName: %v", err)
	}
}
