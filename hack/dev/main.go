// Command dev runs the operator's whole job on this machine, with nothing installed beforehand:
// a local kube-apiserver and etcd, the CRD and RBAC of config/default, the Browserbase emulator
// (or the real API when BROWSERBASE_API_KEY is set), and the manager binary. It applies
// config/samples, shows the BrowserSession going Ready and the keys of its Secret, then keeps
// running for kubectl until Ctrl-C, which deletes the BrowserSessions (releasing their
// sessions), and stops everything it started.
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
	err := run(ctx, *workDir, *sample)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, workDir, sample string) error {
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
	if apiKey != "" {
		if baseURL == "" {
			baseURL = browserbase.DefaultBaseURL
		}
		log.Printf("using the Browserbase API at %s with BROWSERBASE_API_KEY: sessions are real and billed", baseURL)
	} else {
		emu := emulator.New()
		emu.AddKey(emulatorKey, emulator.Project{ID: "local-project", Name: "local", Concurrency: 5, CreatesPerMinute: 25})
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

	// Whatever happens next, release what was created: deleting the resources makes the
	// manager release their sessions before it is stopped.
	defer cleanUp(env)
	if err := showSample(ctx, env, sample); err != nil {
		return err
	}

	fmt.Printf("\nThe operator is running. In another shell:\n\n  export KUBECONFIG=%s\n  kubectl get browsersessions\n  kubectl describe browsersession\n\nCtrl-C releases the sessions and stops everything.\n", env.AdminKubeconfig)
	select {
	case <-ctx.Done():
		log.Print("stopping")
		return nil
	case err := <-env.ManagerExited():
		return fmt.Errorf("the manager exited (see %s): %w", logPath, err)
	}
}

// showSample applies the sample and prints the resource and its Secret's keys, never the values.
func showSample(ctx context.Context, env *localenv.Env, sample string) error {
	out, err := env.Kubectl(ctx, "apply", "-f", sample)
	if err != nil {
		return err
	}
	fmt.Print(out)
	name, err := env.Kubectl(ctx, "get", "-f", sample, "-o", "jsonpath={.metadata.name}")
	if err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if _, err := env.Kubectl(ctx, "wait", "browsersession/"+name, "--for=condition=Ready", "--timeout=120s"); err != nil {
		describe, _ := env.Kubectl(ctx, "describe", "browsersession/"+name)
		return fmt.Errorf("%w\n%s", err, describe)
	}
	table, _ := env.Kubectl(ctx, "get", "browsersession/"+name, "-o", "wide")
	fmt.Print("\n" + table)
	secret, err := env.Kubectl(ctx, "get", "browsersession/"+name, "-o", "jsonpath={.status.secretName}")
	if err != nil {
		return err
	}
	secret = strings.TrimSpace(secret)
	keys, err := env.Kubectl(ctx, "get", "secret", secret, "-o", `go-template={{range $k, $v := .data}}{{$k}} {{end}}`)
	if err != nil {
		return err
	}
	fmt.Printf("\nSecret %s holds: %s(values not shown)\n", secret, keys)
	return nil
}

func cleanUp(env *localenv.Env) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := env.Kubectl(ctx, "delete", "browsersessions", "--all", "--all-namespaces", "--wait", "--timeout=60s"); err != nil {
		log.Printf("deleting the BrowserSessions: %v", err)
	}
}
