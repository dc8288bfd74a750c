package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"slices"
	"time"
)

// Keys of the Secret, and the files of the certificate directory.
const (
	KeyCACert = "ca.crt"
	KeyCAKey  = "ca.key"
	KeyCert   = "tls.crt"
	KeyKey    = "tls.key"
)

// Default lifetimes: the CA outlives many serving certificates, and neither expires unnoticed
// between two hourly checks.
const (
	DefaultCAValidity      = 10 * 365 * 24 * time.Hour
	DefaultServingValidity = 365 * 24 * time.Hour
)

// backdate is how far before now a certificate's validity starts, for clocks behind ours.
const backdate = time.Hour

// validity is how long new certificates last.
type validity struct {
	ca, serving time.Duration
}

// renew returns the Secret data that data should be at now: the same map when nothing is due,
// otherwise a copy with a new CA and serving certificate, or a new serving certificate only.
// dnsNames are the names the serving certificate must hold.
func renew(data map[string][]byte, dnsNames []string, now time.Time, v validity) (map[string][]byte, bool, error) {
	out := maps.Clone(data)
	if out == nil {
		out = map[string][]byte{}
	}
	ca, caKey, err := parseCA(data)
	renewCA := err != nil || due(ca, now)
	if renewCA {
		var caPEM []byte
		if ca, caKey, caPEM, out[KeyCAKey], err = newCA(now, v.ca); err != nil {
			return nil, false, err
		}
		// The certificates of ca.crt are kept, as long as they are valid, for the replicas that
		// still serve a certificate they signed.
		out[KeyCACert] = append(caPEM, stillValid(data[KeyCACert], now, nil)...)
	} else {
		out[KeyCACert] = append(encodeCert(ca.Raw), stillValid(data[KeyCACert], now, ca)...)
	}
	if renewCA || !servingValid(data, ca, dnsNames, now) {
		if out[KeyCert], out[KeyKey], err = newServing(ca, caKey, dnsNames, now, v.serving); err != nil {
			return nil, false, err
		}
	}
	changed := !maps.EqualFunc(data, out, bytes.Equal)
	if !changed {
		return data, false, nil
	}
	return out, true, nil
}

// due reports whether less than a third of cert's lifetime is left.
func due(cert *x509.Certificate, now time.Time) bool {
	lifetime := cert.NotAfter.Sub(cert.NotBefore)
	return !now.Before(cert.NotAfter.Add(-lifetime / 3))
}

// parseCA reads the signing CA, the first certificate of ca.crt, and its key.
func parseCA(data map[string][]byte) (*x509.Certificate, crypto.Signer, error) {
	pair, err := tls.X509KeyPair(data[KeyCACert], data[KeyCAKey])
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !ca.IsCA {
		return nil, nil, errors.New("ca.crt is not a CA with a signing key")
	}
	return ca, signer, nil
}

// stillValid is the PEM of the certificates of bundle that have not expired at now, except skip
// (the signing CA, already first).
func stillValid(bundle []byte, now time.Time, skip *x509.Certificate) []byte {
	var out []byte
	for block, rest := pem.Decode(bundle); block != nil; block, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil || now.After(cert.NotAfter) || (skip != nil && cert.Equal(skip)) {
			continue
		}
		out = append(out, encodeCert(cert.Raw)...)
	}
	return out
}

// servingValid reports whether tls.crt and tls.key are a pair, signed by ca, for every name of
// dnsNames, and not due.
func servingValid(data map[string][]byte, ca *x509.Certificate, dnsNames []string, now time.Time) bool {
	pair, err := tls.X509KeyPair(data[KeyCert], data[KeyKey])
	if err != nil {
		return false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || leaf.CheckSignatureFrom(ca) != nil || due(leaf, now) {
		return false
	}
	for _, name := range dnsNames {
		if ip := net.ParseIP(name); ip != nil {
			if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(leaf.DNSNames, name) {
			return false
		}
	}
	return true
}

// newCA makes a self-signed CA valid from now for lifetime.
func newCA(now time.Time, lifetime time.Duration) (*x509.Certificate, crypto.Signer, []byte, []byte, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	tmpl, err := template(now, lifetime)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	tmpl.Subject = pkix.Name{CommonName: fmt.Sprintf("browserbase-session-operator-webhook-ca@%d", now.Unix())}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return ca, key, encodeCert(der), keyPEM, nil
}

// newServing makes a serving certificate for dnsNames, signed by ca.
func newServing(ca *x509.Certificate, caKey crypto.Signer, dnsNames []string, now time.Time, lifetime time.Duration) ([]byte, []byte, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := template(now, lifetime)
	if err != nil {
		return nil, nil, err
	}
	if len(dnsNames) > 0 {
		tmpl.Subject = pkix.Name{CommonName: dnsNames[0]}
	}
	// Names that are IP addresses (a webhook served on loopback, locally) go in as such.
	for _, name := range dnsNames {
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

func template(now time.Time, lifetime time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(lifetime),
	}, nil
}

func newKey() (crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
