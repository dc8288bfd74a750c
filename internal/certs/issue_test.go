package certs

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

var (
	names = []string{"hook", "hook.ops", "hook.ops.svc", "hook.ops.svc.cluster.local"}
	start = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	days  = 24 * time.Hour
	v     = validity{ca: DefaultCAValidity, serving: DefaultServingValidity}
)

// verify checks that tls.crt is trusted by ca.crt for name at now.
func verify(t *testing.T, data map[string][]byte, name string, now time.Time) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data[KeyCACert]) {
		t.Fatal("ca.crt holds no certificate")
	}
	block, _ := pem.Decode(data[KeyCert])
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: now}); err != nil {
		t.Errorf("tls.crt does not verify for %s at %s: %v", name, now, err)
	}
}

func countCerts(bundle []byte) int {
	n := 0
	for block, rest := pem.Decode(bundle); block != nil; block, rest = pem.Decode(rest) {
		n++
	}
	return n
}

func mustRenew(t *testing.T, data map[string][]byte, dnsNames []string, now time.Time) (map[string][]byte, bool) {
	t.Helper()
	out, changed, err := renew(data, dnsNames, now, v)
	if err != nil {
		t.Fatal(err)
	}
	return out, changed
}

func TestIssueFromNothing(t *testing.T) {
	data, changed := mustRenew(t, nil, names, start)
	if !changed {
		t.Fatal("renew(nil) reports no change")
	}
	for _, key := range []string{KeyCACert, KeyCAKey, KeyCert, KeyKey} {
		if len(data[key]) == 0 {
			t.Errorf("%s is empty", key)
		}
	}
	for _, name := range names {
		verify(t, data, name, start)
	}
	// The 5-second webhook timeout leaves no room for a clock skew surprise: valid from before now.
	verify(t, data, names[0], start.Add(-30*time.Minute))
}

func TestValidCertificatesAreKept(t *testing.T) {
	data, _ := mustRenew(t, nil, names, start)
	for _, at := range []time.Duration{0, 30 * days, 200 * days} {
		if _, changed := mustRenew(t, data, names, start.Add(at)); changed {
			t.Errorf("renewed %s after issuing, want kept until a third of the lifetime is left", at)
		}
	}
}

func TestServingCertificateRenewedNearExpiry(t *testing.T) {
	data, _ := mustRenew(t, nil, names, start)
	later := start.Add(250 * days) // less than a third of a year left
	renewed, changed := mustRenew(t, data, names, later)
	if !changed || string(renewed[KeyCert]) == string(data[KeyCert]) {
		t.Fatal("serving certificate not renewed with a third of its lifetime left")
	}
	if string(renewed[KeyCACert]) != string(data[KeyCACert]) || string(renewed[KeyCAKey]) != string(data[KeyCAKey]) {
		t.Error("the CA changed with the serving certificate; want it kept")
	}
	verify(t, renewed, names[2], later.Add(300*days))
}

func TestCARenewedNearExpiryKeepsTheOldOneTrusted(t *testing.T) {
	data, _ := mustRenew(t, nil, names, start)
	later := start.Add(7 * 365 * days)
	renewed, changed := mustRenew(t, data, names, later)
	if !changed || string(renewed[KeyCAKey]) == string(data[KeyCAKey]) {
		t.Fatal("CA not renewed with less than a third of its lifetime left")
	}
	if n := countCerts(renewed[KeyCACert]); n != 2 {
		t.Fatalf("ca.crt holds %d certificates, want the new CA and the old", n)
	}
	verify(t, renewed, names[0], later)
	verify(t, map[string][]byte{KeyCACert: renewed[KeyCACert], KeyCert: data[KeyCert]}, names[0], start.Add(200*days))

	// Once the old CA has expired, it leaves the bundle.
	pruned, changed := mustRenew(t, renewed, names, start.Add(10*365*days+2*days))
	if !changed || countCerts(pruned[KeyCACert]) != 1 {
		t.Errorf("after the old CA expired, ca.crt holds %d certificates, want 1", countCerts(pruned[KeyCACert]))
	}
}

func TestServingCertificateRenewedForNewNames(t *testing.T) {
	data, _ := mustRenew(t, nil, names, start)
	renewed, changed := mustRenew(t, data, []string{"other.ops.svc"}, start)
	if !changed {
		t.Fatal("not renewed for another Service name")
	}
	verify(t, renewed, "other.ops.svc", start)
}

func TestDamagedDataIsReplaced(t *testing.T) {
	data, _ := mustRenew(t, nil, names, start)
	data[KeyCAKey] = []byte("garbage")
	renewed, changed := mustRenew(t, data, names, start)
	if !changed {
		t.Fatal("a CA without its key is kept")
	}
	verify(t, renewed, names[0], start)
}

// A webhook served on loopback (a local control plane calls it by URL) is trusted for its IP
// address, and a certificate without it is reissued.
func TestServingCertificateForAnIPAddress(t *testing.T) {
	data, _ := mustRenew(t, nil, names, start)
	withIP := append(append([]string(nil), names...), "127.0.0.1")
	data, changed := mustRenew(t, data, withIP, start.Add(time.Minute))
	if !changed {
		t.Fatal("a certificate without the IP address was kept")
	}
	verify(t, data, "127.0.0.1", start.Add(time.Minute))
	if _, changed := mustRenew(t, data, withIP, start.Add(2*time.Minute)); changed {
		t.Fatal("a valid certificate with the IP address was reissued")
	}
}
