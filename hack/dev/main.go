// Command dev runs the operator's whole job on this machine, with nothing installed beforehand:
// a local kube-apiserver and etcd, the CRD and RBAC of config/default, the Browserbase emulator
// (or the real API when BROWSERBASE_API_KEY is set), and the manager binary. It applies
// config/samples, shows the BrowserSession going Ready and the keys of its Secret, then keeps
// running for kubectl until Ctrl-C, which deletes the BrowserSessions (releasing their
// sessions), and stops everything it started.
//
// With the emulator, each session gets a real headless Chromium behind its connectUrl when one
// is installed (--browser=auto), and chromedriver behind its seleniumRemoteUrl; on Debian or
// Ubuntu as root, dev installs chromium-headless-shell and chromium-driver with apt-get when they
// are missing, and says so first. After the sample is Ready, it runs the example workload
// (hack/example-client) with the Secret's connectUrl, which loads a page from a local HTTP
// server through the session's browser and prints its title.
//
// Then it shows a project object and its create queue (projects.go): a BrowserbaseProject whose
// key is in a Secret, with a budget of 6 creates a minute, and three BrowserSessions naming it,
// which come up in declaration order, the waiting ones showing their place.
//
// With kube-controller-manager (the default; --controller-manager=false turns it off), it then
// shows a browser for every Pod (pods.go): the manager serves the Pod webhook on loopback, dev
// applies the BrowserSessionTemplate sample and a Deployment of 3 Pods that opts in, prints each
// Pod's session and Secret, runs the example workload once per Pod with that Pod's own Secret
// (standing in for the kubelet, which does not run here), scales the Deployment to 0 and shows
// the sessions released and the Secrets deleted.
//
//	make dev        # or: go run ./hack/dev
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

// The emulator's key in the local environment; not a secret.
const emulatorKey = "bb_local_dev_key"

func main() {
	workDir := flag.String("work-dir", ".dev", "Where the kubeconfigs, the manager binary and its log go.")
	sample := flag.String("sample", "config/samples/browserbase_v1alpha1_browsersession.yaml", "The manifest to apply.")
	browserFlag := flag.String("browser", "auto", "A headless Chromium per emulated session: off, auto (install or use one when possible) or required.")
	controllerManager := flag.Bool("controller-manager", true, "Also run kube-controller-manager: Deployments make Pods (which stay Pending: no kubelet), the garbage collector deletes what a deleted object owned.")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("dev: ")

	// Stop (and clean up) when make or go run above dies, and keep running when stdout is a pipe
	// whose reader is gone (`make dev | tee` interrupted): a write then fails with EPIPE instead
	// of killing this process before it has released the sessions and stopped its children.
	if err := localenv.ExitWithParent(syscall.SIGTERM); err != nil {
		log.Fatalf("asking to stop with the parent process: %v", err)
	}
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	mode, err := emulator.ParseBrowserMode(*browserFlag)
	if err != nil {
		log.Fatal(err)
	}
	err = run(ctx, *workDir, *sample, mode, *controllerManager)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, workDir, sample string, browserMode emulator.BrowserMode, controllerManager bool) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	workDir, err = filepath.Abs(workDir)
	if err != nil {
		return err
	}
	log.Print("building the control-plane binaries (once; the first time takes a few minutes)")
	assets, err := localenv.AssetsDir(ctx, root)
	if err != nil {
		return err
	}

	baseURL, apiKey := os.Getenv("BROWSERBASE_BASE_URL"), os.Getenv("BROWSERBASE_API_KEY")
	withBrowser := false
	if apiKey != "" {
		if baseURL == "" {
			baseURL = browserbase.DefaultBaseURL
		}
		log.Printf("using the Browserbase API at %s with BROWSERBASE_API_KEY: sessions are real and billed", baseURL)
	} else {
		emu := emulator.New()
		emu.AddKey(emulatorKey, emulator.Project{ID: "local-project", Name: "local", Concurrency: 5, CreatesPerMinute: 25})
		if browserMode != emulator.BrowserOff {
			ensureChromium(ctx)
		}
		mode, err := emu.EnableBrowsers(emulator.BrowserOptions{Mode: browserMode})
		if err != nil {
			return err
		}
		defer emu.Close() // stops every browser and removes its profile
		withBrowser = mode != emulator.BrowserOff
		if withBrowser {
			log.Printf("sessions get a headless Chromium each (%s), at most %d at once", emulator.FindChromium(), emulator.DefaultMaxBrowsers)
		} else {
			log.Print("sessions get connect URLs that lead nowhere (no browser); install chromium-headless-shell (Debian, Ubuntu) for a real one")
		}
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		server := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = server.Serve(listener) }()
		defer func() { _ = server.Close() }()
		baseURL, apiKey = "http://"+listener.Addr().String(), emulatorKey
		log.Printf("Browserbase emulator on %s (set BROWSERBASE_API_KEY to use the real API)", baseURL)
	}

	logPath := filepath.Join(workDir, "manager.log")
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	managerLog, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer func() { _ = managerLog.Close() }()

	log.Print("starting kube-apiserver and etcd, installing config/default, building the manager")
	env, err := localenv.Start(ctx, localenv.Options{
		RepoRoot: root, AssetsDir: assets, WorkDir: workDir,
		BrowserbaseURL: baseURL, APIKey: apiKey, ManagerOutput: managerLog,
		ControllerManager: controllerManager, Webhook: true,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			log.Printf("stopping: %v", err)
		}
		log.Print("stopped everything")
	}()
	if err := env.StartManager(); err != nil {
		return err
	}
	log.Printf("manager running as ServiceAccount %s/%s, logging to %s", localenv.OperatorNamespace, localenv.ServiceAccount, logPath)
	if controllerManager {
		log.Printf("kube-controller-manager running, logging to %s (no kubelet: Pods stay Pending)", env.ControllerManagerLog)
	}

	// Whatever happens next, release what was created: deleting the resources makes the
	// manager release their sessions before it is stopped.
	defer cleanUp(env, controllerManager)
	secret, err := showSample(ctx, env, sample)
	if err != nil {
		return err
	}
	var w *workload
	if withBrowser {
		if w, err = startWorkload(ctx, root, workDir); err != nil {
			return err
		}
		defer w.close()
		if err := runWorkload(ctx, env, w, secret); err != nil {
			return err
		}
	}
	if err := showProject(ctx, env, workDir, apiKey); err != nil {
		return err
	}
	if controllerManager {
		api, err := browserbase.NewHTTPClient(baseURL)
		if err != nil {
			return err
		}
		if err := showPods(ctx, env, w, api, apiKey); err != nil {
			return err
		}
	}

	fmt.Printf("\nThe operator is running. In another shell:\n\n  export KUBECONFIG=%s\n  kubectl get browsersessions\n  kubectl describe browsersession\n  kubectl scale deployment/scraper-pool --replicas=3   # a session for each new Pod\n\nCtrl-C releases the sessions and stops everything.\n", env.AdminKubeconfig)
	select {
	case <-ctx.Done():
		log.Print("stopping")
		return nil
	case err := <-env.ManagerExited():
		return fmt.Errorf("the manager exited (see %s): %w", logPath, err)
	}
}

// showSample applies the sample and prints the resource and its Secret's keys, never the values.
// It returns the Secret's name.
func showSample(ctx context.Context, env *localenv.Env, sample string) (string, error) {
	out, err := env.Kubectl(ctx, "apply", "-f", sample)
	if err != nil {
		return "", err
	}
	fmt.Print(out)
	name, err := env.Kubectl(ctx, "get", "-f", sample, "-o", "jsonpath={.metadata.name}")
	if err != nil {
		return "", err
	}
	name = strings.TrimSpace(name)
	if _, err := env.Kubectl(ctx, "wait", "browsersession/"+name, "--for=condition=Ready", "--timeout=120s"); err != nil {
		describe, _ := env.Kubectl(ctx, "describe", "browsersession/"+name)
		return "", fmt.Errorf("%w\n%s", err, describe)
	}
	table, _ := env.Kubectl(ctx, "get", "browsersession/"+name, "-o", "wide")
	fmt.Print("\n" + table)
	secret, err := env.Kubectl(ctx, "get", "browsersession/"+name, "-o", "jsonpath={.status.secretName}")
	if err != nil {
		return "", err
	}
	secret = strings.TrimSpace(secret)
	keys, err := env.Kubectl(ctx, "get", "secret", secret, "-o", `go-template={{range $k, $v := .data}}{{$k}} {{end}}`)
	if err != nil {
		return "", err
	}
	fmt.Printf("\nSecret %s holds: %s(values not shown)\n", secret, keys)
	return secret, nil
}

func cleanUp(env *localenv.Env, controllerManager bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if controllerManager {
		deletePods(ctx, env)
	}
	if _, err := env.Kubectl(ctx, "delete", "browsersessions", "--all", "--all-namespaces", "--wait", "--timeout=60s"); err != nil {
		log.Printf("deleting the BrowserSessions: %v", err)
	}
	if _, err := env.Kubectl(ctx, "delete", "browserbaseprojects", "--all", "--all-namespaces", "--wait", "--timeout=30s"); err != nil {
		log.Printf("deleting the BrowserbaseProjects: %v", err)
	}
}

// ensureChromium installs what the emulator's browsers need with apt-get, when missing:
// chromium-headless-shell (the browser behind connectUrl) and chromium-driver (chromedriver,
// behind seleniumRemoteUrl). Only on Debian or Ubuntu as root, saying so first; elsewhere it says
// what to install.
func ensureChromium(ctx context.Context) {
	var missing []string
	if emulator.FindChromium() == "" {
		missing = append(missing, "chromium-headless-shell")
	}
	if emulator.FindChromedriver() == "" {
		missing = append(missing, "chromium-driver")
	}
	if len(missing) == 0 {
		return
	}
	packages := strings.Join(missing, " ")
	_, aptErr := exec.LookPath("apt-get")
	_, debErr := os.Stat("/etc/debian_version")
	if aptErr != nil || debErr != nil || os.Geteuid() != 0 {
		log.Printf("not installed: %s (Debian, Ubuntu package names): install chromium-headless-shell for real browsers behind connectUrl, "+
			"chromium-driver for seleniumRemoteUrl", packages)
		return
	}
	log.Printf("installing the Debian packages %s with apt-get (once; about a minute)", packages)
	install := func() error {
		args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, lastLine(string(out)))
		}
		return nil
	}
	err := install()
	if err != nil {
		update := exec.CommandContext(ctx, "apt-get", "update")
		if out, uerr := update.CombinedOutput(); uerr != nil {
			log.Printf("apt-get update: %v: %s", uerr, lastLine(string(out)))
		}
		err = install()
	}
	if err != nil {
		log.Printf("installing %s failed (%v): without a browser, sessions get connect URLs that lead nowhere; "+
			"without chromedriver, seleniumRemoteUrl does", packages, err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
