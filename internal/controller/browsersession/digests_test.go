package browsersession

import (
	"maps"
	"testing"
)

func TestSecretDigest(t *testing.T) {
	written := map[string][]byte{
		SecretKeySessionID: []byte("sess-1"), SecretKeyExpiresAt: []byte("2026-12-01T06:00:00Z"),
		SecretKeyConnectURL: []byte("wss://connect/?signingKey=k"), SecretKeySeleniumRemoteURL: []byte("http://sel"),
		SecretKeySigningKey: []byte("k"),
	}
	sessionOnly := map[string][]byte{SecretKeySessionID: []byte("sess-1"), SecretKeyExpiresAt: []byte("2026-12-01T06:00:00Z")}
	d := newSecretDigest("10", written)

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
		if got := d.holds(tc.resourceVersion, tc.data, tc.complete); got != tc.want {
			t.Errorf("%s: holds = %t, want %t", tc.name, got, tc.want)
		}
	}
}
