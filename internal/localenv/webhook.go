package localenv

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
)

// The webhook configuration config/default installs calls a Service, which a local control plane
// cannot reach: no cluster network runs here. The main manager serves the webhook on a loopback
// port instead, and the configuration is pointed at it by URL; the manager's own certificate
// management (internal/certs) issues a serving certificate for 127.0.0.1 and keeps the
// configuration's caBundle current, as it does in a cluster.

// WebhookConfiguration is the name config/default gives the MutatingWebhookConfiguration.
const WebhookConfiguration = "browserbase-operator-mutating-webhook-configuration"

// serveWebhookLocally picks the loopback port and points the webhook configuration at it.
func (e *Env) serveWebhookLocally(ctx context.Context) error {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	e.webhook = addr
	patch := fmt.Sprintf(`[{"op":"remove","path":"/webhooks/0/clientConfig/service"},`+
		`{"op":"add","path":"/webhooks/0/clientConfig/url","value":"https://%s/mutate-v1-pod"}]`, addr)
	if _, err := e.Kubectl(ctx, "patch", "mutatingwebhookconfiguration", WebhookConfiguration, "--type=json", "-p", patch); err != nil {
		return fmt.Errorf("pointing the webhook configuration at %s: %w", addr, err)
	}
	return nil
}

// webhookArgs are the manager's webhook flags: serving on the loopback port, or not at all.
func (e *Env) webhookArgs(serve bool) []string {
	if !serve || e.webhook == "" {
		return []string{"--webhook-port=0"}
	}
	host, port, _ := net.SplitHostPort(e.webhook)
	return []string{
		"--webhook-host=" + host,
		"--webhook-port=" + port,
		"--webhook-service-namespace=" + OperatorNamespace,
		"--webhook-cert-dir=" + filepath.Join(e.opts.WorkDir, "webhook-certs"),
	}
}
