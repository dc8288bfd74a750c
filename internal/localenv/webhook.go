package localenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// The webhook configuration config/default installs calls a Service, which a local control plane
// cannot reach: no cluster network runs here. The main manager serves the webhook on a loopback
// port instead, and a copy of the configuration, under its own name, calls it by URL; the
// original is removed, so that config/default can still be applied over this cluster (the end-
// to-end suite does) without a configuration holding both a Service and a URL. The manager's own
// certificate management (internal/certs) issues a serving certificate for 127.0.0.1 and keeps
// the copy's caBundle current, as it does in a cluster.

const (
	// WebhookConfiguration is the name config/default gives the MutatingWebhookConfiguration.
	WebhookConfiguration = "browserbase-operator-mutating-webhook-configuration"
	// LocalWebhookConfiguration is the name of the copy that calls the webhook by URL.
	LocalWebhookConfiguration = "browserbase-operator-local-webhook"
)

// serveWebhookLocally picks the loopback port and puts the URL-mode copy in place of the
// Service-mode configuration.
func (e *Env) serveWebhookLocally(ctx context.Context) error {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	e.webhook = addr
	out, err := e.Kubectl(ctx, "get", "mutatingwebhookconfiguration", WebhookConfiguration, "-o", "json")
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		return fmt.Errorf("reading the webhook configuration: %w", err)
	}
	cfg["metadata"] = map[string]any{"name": LocalWebhookConfiguration}
	hooks, _ := cfg["webhooks"].([]any)
	for _, h := range hooks {
		hook, _ := h.(map[string]any)
		hook["clientConfig"] = map[string]any{"url": fmt.Sprintf("https://%s/mutate-v1-pod", addr)}
	}
	manifest, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	path := filepath.Join(e.opts.WorkDir, "local-webhook.json")
	if err := os.WriteFile(path, manifest, 0o600); err != nil {
		return err
	}
	if _, err := e.Kubectl(ctx, "apply", "--server-side", "-f", path); err != nil {
		return fmt.Errorf("configuring the webhook at %s: %w", addr, err)
	}
	_, err = e.Kubectl(ctx, "delete", "mutatingwebhookconfiguration", WebhookConfiguration)
	return err
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
		"--webhook-configuration-name=" + LocalWebhookConfiguration,
		"--webhook-cert-dir=" + filepath.Join(e.opts.WorkDir, "webhook-certs"),
	}
}
