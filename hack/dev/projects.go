package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/browserbase/session-operator/internal/localenv"
)

// projectManifest is a BrowserbaseProject whose key is in the Secret browserbase-key, with a
// budget of 6 creates a minute (one every 10 s, so that the queue shows), and three
// BrowserSessions that name it.
const projectManifest = `apiVersion: browserbase.io/v1alpha1
kind: BrowserbaseProject
metadata:
  name: local
spec:
  apiKeySecretRef: {name: browserbase-key}
  maxCreatesPerMinute: 6
  sessionDefaults:
    timeout: 600
`

const queuedSessions = 3

// showProject shows a project object and its queue: the key goes into a Secret (from a file, so
// that it is never on a command line), a BrowserbaseProject names it, and three BrowserSessions
// naming the project come up one every 10 s, in the order they were declared, the later ones
// showing their place meanwhile. They are deleted afterwards, releasing their sessions, to leave
// the emulator's concurrent-session slots to the Pods.
func showProject(ctx context.Context, env *localenv.Env, workDir, apiKey string) error {
	keyFile := filepath.Join(workDir, "browserbase-key")
	if err := os.WriteFile(keyFile, []byte(apiKey), 0o600); err != nil {
		return err
	}
	defer func() { _ = os.Remove(keyFile) }()
	if _, err := env.Kubectl(ctx, "create", "secret", "generic", "browserbase-key", "--from-file=apiKey="+keyFile); err != nil {
		return err
	}
	manifest := projectManifest
	for i := range queuedSessions {
		manifest += fmt.Sprintf("---\napiVersion: browserbase.io/v1alpha1\nkind: BrowserSession\nmetadata:\n  name: queued-%d\nspec:\n  projectRef: {name: local}\n", i)
	}
	path := filepath.Join(workDir, "project.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		return err
	}
	log.Print("a BrowserbaseProject (at most 6 creates a minute) and three BrowserSessions that name it")
	out, err := env.Kubectl(ctx, "apply", "-f", path)
	if err != nil {
		return err
	}
	fmt.Print(out)
	if _, err := env.Kubectl(ctx, "wait", "browserbaseproject/local", "--for=condition=Ready", "--timeout=60s"); err != nil {
		describe, _ := env.Kubectl(ctx, "describe", "browserbaseproject/local")
		return fmt.Errorf("%w\n%s", err, describe)
	}
	time.Sleep(3 * time.Second) // long enough for the later ones to be queued
	table, _ := env.Kubectl(ctx, "get", "browsersessions", "-l", "!browserbase.io/session-template", "-o", "wide")
	fmt.Print("\n" + table)
	names := make([]string, queuedSessions)
	for i := range names {
		names[i] = fmt.Sprintf("browsersession/queued-%d", i)
	}
	if _, err := env.Kubectl(ctx, append([]string{"wait", "--for=condition=Ready", "--timeout=120s"}, names...)...); err != nil {
		return err
	}
	table, _ = env.Kubectl(ctx, "get", "browserbaseproject/local")
	fmt.Print("\n" + table)
	ready, _ := env.Kubectl(ctx, "get", "browsersessions", "-o",
		`jsonpath={range .items[?(@.spec.projectRef.name=="local")]}{.metadata.name}{" Ready at "}{.status.conditions[?(@.type=="Ready")].lastTransitionTime}{"\n"}{end}`)
	fmt.Print("\n" + strings.TrimSpace(ready) + "\n")
	if _, err := env.Kubectl(ctx, append([]string{"delete", "--wait", "--timeout=60s"}, names...)...); err != nil {
		return err
	}
	log.Print("deleted the three BrowserSessions, releasing their sessions")
	return nil
}
