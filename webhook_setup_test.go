package main

import (
	"flag"
	"testing"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/browserbase/session-operator/internal/scheme"
)

func TestWebhookFlags(t *testing.T) {
	var o webhookOptions
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	o.bindFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if o.port != 9443 || !o.manageCerts || o.certDir == "" || o.serviceNamespace != "" {
		t.Errorf("defaults: %+v, want port 9443, managed certificates, a cert dir, the service account's namespace", o)
	}
	if err := fs.Parse([]string{"--webhook-port=0", "--webhook-manage-certs=false", "--webhook-service-name=s",
		"--webhook-service-namespace=n", "--webhook-configuration-name=c", "--webhook-cert-dir=/d", "--webhook-cert-secret=x"}); err != nil {
		t.Fatal(err)
	}
	want := webhookOptions{port: 0, certDir: "/d", manageCerts: false, serviceName: "s", serviceNamespace: "n",
		configurationName: "c", certSecretName: "x"}
	if o != want {
		t.Errorf("parsed %+v, want %+v", o, want)
	}
}

func TestSetupWebhook(t *testing.T) {
	for _, o := range []webhookOptions{
		{port: 0},
		{port: 19443, certDir: t.TempDir(), manageCerts: true, serviceNamespace: "ops", serviceName: "s",
			configurationName: "c", certSecretName: "x"},
		{port: 19444, certDir: t.TempDir()},
	} {
		// Set-up only registers; nothing reaches this address until the manager starts.
		mgr, err := ctrl.NewManager(&rest.Config{Host: "https://127.0.0.1:1"}, ctrl.Options{
			Scheme:                 scheme.New(),
			Metrics:                metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress: "0",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := setupWebhook(mgr, o); err != nil {
			t.Errorf("setupWebhook(%+v): %v", o, err)
		}
	}
}
