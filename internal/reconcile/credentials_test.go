package reconcile

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/scheme"
)

func TestCredentials(t *testing.T) {
	secret := func(name string, data map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	reader := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(
		secret("key", map[string]string{"apiKey": "  from-secret\n", "other": "other-key"}),
		secret("empty", map[string]string{"apiKey": ""}),
	).Build()
	cases := map[string]struct {
		ref        *v1alpha1.APIKeySecretReference
		defaultKey browserbase.Sensitive
		wantKey    string
		wantReason string
		wantWait   bool // a Secret that may yet appear is waited for (InProgress), not stalled on
	}{
		"the default key when no ref":    {defaultKey: "default", wantKey: "default"},
		"no ref and no default":          {wantReason: v1alpha1.ReasonCredentialsMissing},
		"the ref's default key, trimmed": {ref: &v1alpha1.APIKeySecretReference{Name: "key"}, defaultKey: "default", wantKey: "from-secret"},
		"the ref's named key":            {ref: &v1alpha1.APIKeySecretReference{Name: "key", Key: "other"}, wantKey: "other-key"},
		"a missing Secret is rechecked":  {ref: &v1alpha1.APIKeySecretReference{Name: "absent"}, wantReason: v1alpha1.ReasonCredentialsMissing, wantWait: true},
		"an empty value is rechecked":    {ref: &v1alpha1.APIKeySecretReference{Name: "empty"}, wantReason: v1alpha1.ReasonCredentialsMissing, wantWait: true},
		"a missing key is rechecked":     {ref: &v1alpha1.APIKeySecretReference{Name: "key", Key: "nope"}, wantReason: v1alpha1.ReasonCredentialsMissing, wantWait: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := &Credentials{Reader: reader, Default: tc.defaultKey, RecheckInterval: time.Minute}
			key, err := c.APIKey(context.Background(), "ns", tc.ref)
			if tc.wantReason == "" {
				if err != nil || key.Reveal() != tc.wantKey {
					t.Fatalf("APIKey() = %q, %v; want %q", key.Reveal(), err, tc.wantKey)
				}
				return
			}
			stall, isStall := errors.AsType[*StallError](err)
			wait, isWait := errors.AsType[*WaitError](err)
			switch {
			case tc.wantWait && (!isWait || wait.Reason != tc.wantReason || wait.After != time.Minute):
				t.Fatalf("APIKey() error = %#v, want a %s wait of the recheck interval", err, tc.wantReason)
			case !tc.wantWait && (!isStall || stall.Reason != tc.wantReason):
				t.Fatalf("APIKey() error = %#v, want a %s stall", err, tc.wantReason)
			}
		})
	}
}
