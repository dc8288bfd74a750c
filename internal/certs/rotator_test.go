package certs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/internal/scheme"
)

// rotatorEnv is a Rotator on a fake API server with a two-webhook configuration, counting
// writes.
type rotatorEnv struct {
	rotator *Rotator
	client  client.Client
	clock   *clocktesting.FakePassiveClock
	dir     string
	writes  int
}

func newRotatorEnv(t *testing.T) *rotatorEnv {
	t.Helper()
	e := &rotatorEnv{clock: clocktesting.NewFakePassiveClock(start), dir: filepath.Join(t.TempDir(), "certs")}
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "injector"},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: "a.example.com"}, {Name: "b.example.com"}},
	}
	count := func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		e.writes++
		return c.Create(ctx, obj, opts...)
	}
	countPatch := func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
		e.writes++
		return c.Patch(ctx, obj, p, opts...)
	}
	e.client = fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(cfg).
		WithInterceptorFuncs(interceptor.Funcs{Create: count, Patch: countPatch}).Build()
	e.rotator = New(Options{
		Reader: e.client, Writer: e.client,
		Namespace: "ops", SecretName: "hook-tls", ServiceName: "hook",
		WebhookConfigurationName: "injector", CertDir: e.dir, Clock: e.clock,
	})
	return e
}

func (e *rotatorEnv) check(t *testing.T) {
	t.Helper()
	if err := e.rotator.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func (e *rotatorEnv) secret(t *testing.T) map[string][]byte {
	t.Helper()
	s := &corev1.Secret{}
	if err := e.client.Get(context.Background(), client.ObjectKey{Namespace: "ops", Name: "hook-tls"}, s); err != nil {
		t.Fatal(err)
	}
	return s.Data
}

func (e *rotatorEnv) caBundles(t *testing.T) []string {
	t.Helper()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := e.client.Get(context.Background(), client.ObjectKey{Name: "injector"}, cfg); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, w := range cfg.Webhooks {
		out = append(out, string(w.ClientConfig.CABundle))
	}
	return out
}

func (e *rotatorEnv) file(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertServing checks that the files, the Secret and every caBundle agree.
func (e *rotatorEnv) assertServing(t *testing.T) map[string][]byte {
	t.Helper()
	data := e.secret(t)
	if e.file(t, KeyCert) != string(data[KeyCert]) || e.file(t, KeyKey) != string(data[KeyKey]) {
		t.Error("the certificate directory does not hold the Secret's tls.crt and tls.key")
	}
	for i, b := range e.caBundles(t) {
		if b != string(data[KeyCACert]) {
			t.Errorf("webhook %d's caBundle is not the Secret's ca.crt", i)
		}
	}
	verify(t, data, "hook.ops.svc", e.clock.Now())
	return data
}

func TestRotatorIssuesThenReuses(t *testing.T) {
	e := newRotatorEnv(t)
	select {
	case <-e.rotator.Ready():
		t.Fatal("ready before the first check")
	default:
	}
	e.check(t)
	first := e.assertServing(t)
	select {
	case <-e.rotator.Ready():
	default:
		t.Fatal("not ready after a check that wrote the files")
	}

	writes := e.writes
	e.clock.SetTime(start.Add(100 * days))
	e.check(t)
	if e.writes != writes {
		t.Errorf("a check of valid certificates wrote %d times, want none", e.writes-writes)
	}
	if string(e.assertServing(t)[KeyCert]) != string(first[KeyCert]) {
		t.Error("a valid serving certificate was replaced")
	}
}

func TestRotatorRenewsNearExpiry(t *testing.T) {
	e := newRotatorEnv(t)
	e.check(t)
	first := e.secret(t)

	e.clock.SetTime(start.Add(250 * days))
	e.check(t)
	renewed := e.assertServing(t)
	if string(renewed[KeyCert]) == string(first[KeyCert]) {
		t.Error("the serving certificate was not renewed with a third of its lifetime left")
	}
	if string(renewed[KeyCACert]) != string(first[KeyCACert]) {
		t.Error("the CA changed; want only the serving certificate renewed")
	}

	e.clock.SetTime(start.Add(7 * 365 * days))
	e.check(t)
	if got := e.assertServing(t); string(got[KeyCACert]) == string(first[KeyCACert]) {
		t.Error("the caBundle was not renewed with the CA")
	}
}

func TestRotatorRepairsAnOutdatedCABundle(t *testing.T) {
	e := newRotatorEnv(t)
	e.check(t)
	// Someone (a helm upgrade, a GitOps sync) resets the caBundle.
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := e.client.Get(context.Background(), client.ObjectKey{Name: "injector"}, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Webhooks[1].ClientConfig.CABundle = nil
	if err := e.client.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	e.check(t)
	e.assertServing(t)
}

func TestRotatorReportsAMissingConfigurationButServes(t *testing.T) {
	e := newRotatorEnv(t)
	e.rotator.opts.WebhookConfigurationName = "missing"
	if err := e.rotator.Check(context.Background()); err == nil {
		t.Fatal("Check succeeded without the webhook configuration")
	}
	select {
	case <-e.rotator.Ready():
	default:
		t.Fatal("not ready: the files are written even when the caBundle cannot be")
	}
	if e.file(t, KeyCert) == "" {
		t.Error("tls.crt not written")
	}
}

func TestWaitForCertificatesHoldsTheServer(t *testing.T) {
	e := newRotatorEnv(t)
	started := make(chan struct{})
	srv := WaitForCertificates(startRecorder{started: started}, e.rotator)

	// Without certificates, the server waits until the manager stops, and is never started.
	stopped, stop := context.WithCancel(context.Background())
	stop()
	if err := srv.Start(stopped); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
		t.Fatal("the server started before the certificates were written")
	default:
	}

	e.check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Start(ctx) }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start once the certificates were written")
	}
}
