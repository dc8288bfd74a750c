package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/browserbase/session-operator/internal/localenv"
)

// workload is the example workload (hack/example-client), built once, and a local page for it
// to load through a session's browser.
type workload struct {
	bin, workDir, pageURL string
	page                  *http.Server
}

// startWorkload builds hack/example-client and serves the page it loads.
func startWorkload(ctx context.Context, root, workDir string) (*workload, error) {
	bin := filepath.Join(workDir, "example-client")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./hack/example-client")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building hack/example-client: %w\n%s", err, out)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	page := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = fmt.Fprint(w, "<!doctype html><title>Hello from make dev: a local page, loaded through the session's browser</title><p>It works.</p>")
	})}
	go func() { _ = page.Serve(listener) }()
	return &workload{bin: bin, workDir: workDir, pageURL: "http://" + listener.Addr().String() + "/", page: page}, nil
}

func (w *workload) close() { _ = w.page.Close() }

// run runs the workload as a Pod with the Secret mounted would: the Secret's connectUrl goes to
// a file under dir (as the kubelet writes a Secret volume), which the workload reads; it loads
// the page through the session's browser and returns its title. The connect URL is a
// credential: it goes to that file only, never to the terminal.
func (w *workload) run(ctx context.Context, env *localenv.Env, secret, dir string) (string, error) {
	encoded, err := env.Kubectl(ctx, "get", "secret", secret, "-o", "jsonpath={.data.connectUrl}")
	if err != nil {
		return "", err
	}
	connectURL, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", fmt.Errorf("the Secret's connectUrl is not base64: %w", err)
	}
	mount := filepath.Join(w.workDir, dir)
	if err := os.MkdirAll(mount, 0o700); err != nil {
		return "", err
	}
	urlFile := filepath.Join(mount, "connectUrl")
	if err := os.WriteFile(urlFile, connectURL, 0o600); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, w.bin, "--connect-url-file", urlFile, "--url", w.pageURL, "--timeout", "60s")
	cmd.SysProcAttr = localenv.ChildAttr()
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			stderr = strings.TrimSpace(string(exit.Stderr))
		}
		return "", fmt.Errorf("the example workload failed: %w: %s", err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

// runWorkload runs the example workload once with the sample's Secret.
func runWorkload(ctx context.Context, env *localenv.Env, w *workload, secret string) error {
	fmt.Printf("\nRunning the example workload (hack/example-client) with the Secret's connectUrl: it loads %s in the session's browser.\n", w.pageURL)
	title, err := w.run(ctx, env, secret, "secret")
	if err != nil {
		return err
	}
	fmt.Printf("workload: page title %q\n", title)
	fmt.Println("(The sample has no keepAlive, so its session ended when the workload disconnected, as Browserbase's do;\n" +
		" its renewal policy OnEnd puts a new session into the same Secret, and the sample is Ready again.)")
	return nil
}
