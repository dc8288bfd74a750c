package certs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// The Rotator reads, makes and renews its Secret, in its own namespace, and keeps the caBundle
// of the webhook configuration current.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;patch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,verbs=get;patch

// DefaultCheckInterval is how often the certificates are checked after the first time.
const DefaultCheckInterval = time.Hour

// Bounds of the wait before trying again after a failed check.
const (
	minRetry = time.Second
	maxRetry = time.Minute
)

// Options configure a Rotator.
type Options struct {
	// Reader reads from the API server (mgr.GetAPIReader()): the manager's cache holds only the
	// Secrets the controllers write, and may not be started yet.
	Reader client.Reader
	// Writer creates and patches (mgr.GetClient()).
	Writer client.Writer

	// Namespace and SecretName name the Secret that holds the CA and the serving certificate.
	Namespace, SecretName string
	// ServiceName is the webhook's Service, in Namespace: the serving certificate is for its
	// DNS names.
	ServiceName string
	// Hosts are further names (or IP addresses) the serving certificate is for: 127.0.0.1 when
	// the API server calls the webhook on loopback (a local control plane).
	Hosts []string
	// WebhookConfigurationName is the MutatingWebhookConfiguration whose caBundles are kept.
	WebhookConfigurationName string
	// CertDir is where tls.crt and tls.key are written for the webhook server.
	CertDir string

	// CAValidity, ServingValidity and CheckInterval default to DefaultCAValidity,
	// DefaultServingValidity and DefaultCheckInterval.
	CAValidity, ServingValidity, CheckInterval time.Duration
	// Clock tells the time certificates are checked and issued at; nil: the real clock.
	Clock clock.PassiveClock
}

// Rotator keeps the webhook's certificates; see the package documentation.
type Rotator struct {
	opts      Options
	ready     chan struct{}
	readyOnce sync.Once
}

// New returns a Rotator; add it to the manager and serve through WaitForCertificates.
func New(opts Options) *Rotator {
	if opts.CAValidity == 0 {
		opts.CAValidity = DefaultCAValidity
	}
	if opts.ServingValidity == 0 {
		opts.ServingValidity = DefaultServingValidity
	}
	if opts.CheckInterval == 0 {
		opts.CheckInterval = DefaultCheckInterval
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Rotator{opts: opts, ready: make(chan struct{})}
}

// DNSNames are the names the API server may reach the webhook by: its Service's, and Hosts.
func (r *Rotator) DNSNames() []string {
	svc, ns := r.opts.ServiceName, r.opts.Namespace
	return append([]string{svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"}, r.opts.Hosts...)
}

// Ready is closed once the certificate files have been written the first time.
func (r *Rotator) Ready() <-chan struct{} { return r.ready }

// NeedLeaderElection is false: every replica serves the webhook, so each keeps its files.
func (r *Rotator) NeedLeaderElection() bool { return false }

// Start checks the certificates now, again after a failure (backing off to a minute), and every
// CheckInterval, until ctx ends.
func (r *Rotator) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("webhook-certs")
	retry := minRetry
	for {
		wait := r.opts.CheckInterval
		if err := r.Check(ctx); err != nil {
			log.Error(err, "Checking the webhook's certificates; trying again", "in", retry)
			wait, retry = retry, min(2*retry, maxRetry)
		} else {
			retry = minRetry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Check makes or renews the Secret when due, puts its CA bundle in the webhook configuration,
// and writes the serving certificate to CertDir. The caBundle goes first, so that a renewed CA is
// trusted before any replica serves a certificate it signed.
func (r *Rotator) Check(ctx context.Context) error {
	data, err := r.ensureSecret(ctx)
	if err != nil {
		return err
	}
	bundleErr := r.patchCABundle(ctx, data[KeyCACert])
	if err := r.writeFiles(data); err != nil {
		return errors.Join(bundleErr, err)
	}
	r.readyOnce.Do(func() { close(r.ready) })
	return bundleErr
}

// ensureSecret returns the Secret's data after making or renewing it. Replicas racing on it
// lose with AlreadyExists or a conflict, and read the winner's on their next check.
func (r *Rotator) ensureSecret(ctx context.Context) (map[string][]byte, error) {
	o := r.opts
	now := o.Clock.Now()
	v := validity{ca: o.CAValidity, serving: o.ServingValidity}
	secret := &corev1.Secret{}
	err := o.Reader.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.SecretName}, secret)
	if apierrors.IsNotFound(err) {
		data, _, err := renew(nil, r.DNSNames(), now, v)
		if err != nil {
			return nil, err
		}
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: o.SecretName,
				Labels: map[string]string{"app.kubernetes.io/component": "webhook-certificates"}},
			Type: corev1.SecretTypeTLS,
			Data: data,
		}
		if err := o.Writer.Create(ctx, secret); err != nil {
			return nil, fmt.Errorf("creating Secret %s/%s: %w", o.Namespace, o.SecretName, err)
		}
		logf.FromContext(ctx).Info("Issued the webhook's CA and serving certificate", "secret", o.SecretName)
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s: %w", o.Namespace, o.SecretName, err)
	}
	data, changed, err := renew(secret.Data, r.DNSNames(), now, v)
	if err != nil || !changed {
		return data, err
	}
	base := secret.DeepCopy()
	secret.Data = data
	if err := o.Writer.Patch(ctx, secret, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, fmt.Errorf("renewing the certificates in Secret %s/%s: %w", o.Namespace, o.SecretName, err)
	}
	logf.FromContext(ctx).Info("Renewed the webhook's certificates", "secret", o.SecretName,
		"caRenewed", !bytes.Equal(base.Data[KeyCAKey], data[KeyCAKey]))
	return data, nil
}

// patchCABundle sets bundle as the caBundle of every webhook of the configuration that has
// another. A JSON patch of that one field, guarded by the resourceVersion: a merge patch would
// replace the whole webhooks list, and drop the fields this build does not know.
func (r *Rotator) patchCABundle(ctx context.Context, bundle []byte) error {
	o := r.opts
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := o.Reader.Get(ctx, client.ObjectKey{Name: o.WebhookConfigurationName}, cfg); err != nil {
		return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", o.WebhookConfigurationName, err)
	}
	ops := []map[string]any{{"op": "test", "path": "/metadata/resourceVersion", "value": cfg.ResourceVersion}}
	for i, w := range cfg.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, bundle) {
			ops = append(ops, map[string]any{"op": "add", "path": fmt.Sprintf("/webhooks/%d/clientConfig/caBundle", i),
				"value": base64.StdEncoding.EncodeToString(bundle)})
		}
	}
	if len(ops) == 1 {
		return nil
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	if err := o.Writer.Patch(ctx, cfg, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return fmt.Errorf("setting the caBundle of MutatingWebhookConfiguration %s: %w", o.WebhookConfigurationName, err)
	}
	logf.FromContext(ctx).Info("Set the webhook configuration's caBundle", "configuration", o.WebhookConfigurationName)
	return nil
}

// writeFiles writes tls.crt and tls.key to CertDir when they differ, each by a rename, so the
// certwatcher never reads half a file.
func (r *Rotator) writeFiles(data map[string][]byte) error {
	dir := r.opts.CertDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, key := range []string{KeyKey, KeyCert} {
		path := filepath.Join(dir, key)
		if current, err := os.ReadFile(path); err == nil && bytes.Equal(current, data[key]) {
			continue
		}
		if err := writeAtomically(path, data[key]); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

func writeAtomically(path string, content []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }() // gone after the rename; left over on an error
	if _, err := f.Write(content); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
