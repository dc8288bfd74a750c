package controller

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

func TestStripUnread(t *testing.T) {
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{
		Name:          "s",
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"apiVersion":"browserbase.io/v1alpha1"}`,
			v1alpha1.AnnotationSkipRelease:     "true",
		},
	}}
	shared := bs.Annotations
	out, err := stripUnread(bs)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*v1alpha1.BrowserSession)
	if got.ManagedFields != nil {
		t.Errorf("managedFields kept: %v", got.ManagedFields)
	}
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied-configuration kept")
	}
	if got.Annotations[v1alpha1.AnnotationSkipRelease] != "true" {
		t.Errorf("annotations the operator reads must stay: %v", got.Annotations)
	}
	if _, ok := shared[corev1.LastAppliedConfigAnnotation]; !ok {
		t.Error("the annotation map given in was changed in place")
	}

	tombstone := toolscache.DeletedFinalStateUnknown{Key: "ns/s"}
	if out, err := stripUnread(tombstone); err != nil || out != tombstone {
		t.Errorf("a tombstone must pass through: %v, %v", out, err)
	}
}

func TestSecretDigests(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "s-browserbase"}
	written := map[string][]byte{
		SecretKeySessionID: []byte("sess-1"), SecretKeyExpiresAt: []byte("2026-12-01T06:00:00Z"),
		SecretKeyConnectURL: []byte("wss://connect/?signingKey=k"), SecretKeySeleniumRemoteURL: []byte("http://sel"),
		SecretKeySigningKey: []byte("k"),
	}
	sessionOnly := map[string][]byte{SecretKeySessionID: []byte("sess-1"), SecretKeyExpiresAt: []byte("2026-12-01T06:00:00Z")}
	var d secretDigests
	d.remember(key, "10", written)

	cases := []struct {
		name            string
		resourceVersion string
		data            map[string][]byte
		complete        bool
		want            bool
	}{
		{"the same data at the same version", "10", maps.Clone(written), true, true},
		{"a version someone else wrote", "11", maps.Clone(written), true, false},
		{"a new signing key", "10", func() map[string][]byte {
			m := maps.Clone(written)
			m[SecretKeySigningKey] = []byte("k2")
			return m
		}(), true, false},
		{"no connect details: the session keys decide", "10", sessionOnly, false, true},
		{"no connect details, a new expiry", "10", map[string][]byte{
			SecretKeySessionID: []byte("sess-1"), SecretKeyExpiresAt: []byte("2026-12-01T07:00:00Z"),
		}, false, false},
	}
	for _, tc := range cases {
		if got := d.holds(key, tc.resourceVersion, tc.data, tc.complete); got != tc.want {
			t.Errorf("%s: holds = %t, want %t", tc.name, got, tc.want)
		}
	}
	d.forget(key)
	if d.holds(key, "10", written, true) {
		t.Error("a forgotten Secret is still known")
	}
}
