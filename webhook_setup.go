package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/browserbase/session-operator/internal/certs"
	"github.com/browserbase/session-operator/internal/webhook/podinjector"
)

// serviceAccountNamespace is where the kubelet tells a Pod its namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// webhookOptions configure the Pod injection webhook (internal/webhook/podinjector) and, unless
// cert-manager provides it, its serving certificate (internal/certs).
type webhookOptions struct {
	port              int
	host              string
	certDir           string
	manageCerts       bool
	serviceName       string
	serviceNamespace  string
	configurationName string
	certSecretName    string
}

// bindFlags registers the webhook's flags on fs. The name defaults are those of config/default
// (its namePrefix browserbase-operator-); the chart passes its own.
func (o *webhookOptions) bindFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.port, "webhook-port", 9443, "The port the Pod injection webhook serves on. 0 disables the webhook.")
	fs.StringVar(&o.host, "webhook-host", "", "The address the webhook binds to (empty: every address). An IP "+
		"address here is also put in the serving certificate: 127.0.0.1 for a local control plane that calls the webhook "+
		"by URL (make dev, the end-to-end suite).")
	fs.StringVar(&o.certDir, "webhook-cert-dir", filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs"),
		"The directory of the webhook's tls.crt and tls.key: written by the operator with --webhook-manage-certs, "+
			"otherwise mounted (cert-manager). Reloaded when they change.")
	fs.BoolVar(&o.manageCerts, "webhook-manage-certs", true, "Keep the webhook's CA and serving certificate in "+
		"the Secret --webhook-cert-secret, and the caBundle of --webhook-configuration-name current. false: "+
		"cert-manager (or another) provides them in --webhook-cert-dir.")
	fs.StringVar(&o.serviceName, "webhook-service-name", "browserbase-operator-webhook-service",
		"The webhook's Service: the serving certificate is for its DNS names.")
	fs.StringVar(&o.serviceNamespace, "webhook-service-namespace", "", "The namespace of the webhook's Service "+
		"and certificate Secret; empty: the operator's own (from its service account).")
	fs.StringVar(&o.configurationName, "webhook-configuration-name", "browserbase-operator-mutating-webhook-configuration",
		"The MutatingWebhookConfiguration whose caBundle the operator keeps current.")
	fs.StringVar(&o.certSecretName, "webhook-cert-secret", "browserbase-operator-webhook-tls",
		"The Secret the operator keeps the webhook's CA and serving certificate in.")
}

// setupWebhook serves the Pod injection webhook from every replica (webhooks need no leader),
// with certificates the operator keeps itself unless --webhook-manage-certs=false. Outside a
// cluster (no service account namespace, no --webhook-service-namespace) there is no Service to
// issue a certificate for, and the webhook is not served: a manager run from a laptop or a test
// then needs no flag.
func setupWebhook(mgr ctrl.Manager, opts webhookOptions) error {
	if opts.port == 0 {
		setupLog.Info("The Pod injection webhook is disabled (--webhook-port=0)")
		return nil
	}
	// HTTP/1.1 only, as for metrics without --enable-http2: HTTP/2 Rapid Reset (CVE-2023-44487).
	srv := webhook.NewServer(webhook.Options{
		Host:    opts.host,
		Port:    opts.port,
		CertDir: opts.certDir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	})
	srv.Register(podinjector.Path, podinjector.NewWebhook(&podinjector.Injector{
		Reader:  mgr.GetAPIReader(),
		Decoder: admission.NewDecoder(mgr.GetScheme()),
	}))

	if opts.manageCerts {
		namespace := opts.serviceNamespace
		if namespace == "" {
			b, err := os.ReadFile(serviceAccountNamespace)
			if err != nil {
				setupLog.Info("Not serving the Pod injection webhook: not running in a cluster; set " +
					"--webhook-service-namespace to serve it, or --webhook-port=0 to say so")
				return nil
			}
			namespace = strings.TrimSpace(string(b))
		}
		rotator := certs.New(certs.Options{
			Reader:                   mgr.GetAPIReader(),
			Writer:                   mgr.GetClient(),
			Namespace:                namespace,
			SecretName:               opts.certSecretName,
			ServiceName:              opts.serviceName,
			WebhookConfigurationName: opts.configurationName,
			CertDir:                  opts.certDir,
			Hosts:                    hostsOf(opts.host),
		})
		if err := mgr.Add(rotator); err != nil {
			return err
		}
		srv = certs.WaitForCertificates(srv, rotator)
	}
	if err := mgr.Add(srv); err != nil {
		return fmt.Errorf("adding the webhook server: %w", err)
	}
	// Ready once it serves: the Service then sends admission requests to this replica only.
	return mgr.AddReadyzCheck("webhook", srv.StartedChecker())
}

// hostsOf is the extra name of the serving certificate: the bind address when it is one.
func hostsOf(host string) []string {
	if net.ParseIP(host) == nil {
		return nil
	}
	return []string{host}
}
