// Package localenv runs the operator's whole job on one machine, as a user would run it in a
// cluster: a local kube-apiserver and etcd (the source-built envtest binaries), the install
// bundle of config/default applied with kubectl, and the manager binary built from main.go,
// running as a separate process that authenticates as the ServiceAccount of config/rbac, so a
// missing RBAC rule fails. hack/dev (make dev) and the end-to-end tests share it.
package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The names config/default gives the operator's namespace and ServiceAccount.
const (
	OperatorNamespace = "browserbase-operator-system"
	ServiceAccount    = "browserbase-operator-controller-manager"
)

// Options configure a local environment.
type Options struct {
	// RepoRoot holds main.go and config/.
	RepoRoot string
	// AssetsDir holds kube-apiserver, etcd and kubectl (hack/envtest-binaries.sh prints it).
	AssetsDir string
	// WorkDir receives the kubeconfigs and the manager binary.
	WorkDir string
	// BrowserbaseURL and APIKey are handed to the manager as BROWSERBASE_BASE_URL and
	// BROWSERBASE_API_KEY.
	BrowserbaseURL string
	APIKey         string
	// ManagerArgs are added to the manager's command line.
	ManagerArgs []string
	// ManagerOutput receives the manager's logs (os.Stderr if nil).
	ManagerOutput io.Writer
	// Metrics serves each manager's metrics over plain HTTP on a free loopback port (see
	// Manager.MetricsURL); otherwise metrics are off.
	Metrics bool
	// Webhook has the main manager serve the Pod injection webhook on loopback, with the
	// certificates it manages itself, and points config/default's webhook configuration at it
	// (webhook.go); otherwise no manager serves it, and opted-in Pods are refused.
	Webhook bool
	// ControllerManager also runs kube-controller-manager (from AssetsDir), so that
	// Deployments make ReplicaSets and Pods and the garbage collector deletes what a deleted
	// object owned, as in a cluster. There is no kubelet: Pods stay Pending.
	ControllerManager bool
}

// Env is a running local environment.
type Env struct {
	opts    Options
	testEnv *envtest.Environment

	// AdminKubeconfig is a cluster-admin kubeconfig, for kubectl.
	AdminKubeconfig string
	// ManagerKubeconfig authenticates with a token of the operator's ServiceAccount.
	ManagerKubeconfig string
	// AdminConfig is the cluster-admin REST config, for clients in tests.
	AdminConfig *rest.Config
	// ControllerManagerLog is kube-controller-manager's log, with Options.ControllerManager.
	ControllerManagerLog string

	managerBin string
	pids       *pidFile
	manager    *Manager   // the main manager
	replicas   []*Manager // every manager started, the main one included
	webhook    string     // the loopback address the main manager serves the webhook on

	controllerManager *child
}

// Start starts the control plane (with kube-controller-manager if Options.ControllerManager),
// installs config/default and builds the manager. It does not start the manager: call
// StartManager.
func Start(ctx context.Context, opts Options) (_ *Env, retErr error) {
	if opts.ManagerOutput == nil {
		opts.ManagerOutput = os.Stderr
	}
	if opts.ControllerManager {
		if err := checkControllerManager(opts.AssetsDir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, err
	}
	e := &Env{
		opts:       opts,
		managerBin: filepath.Join(opts.WorkDir, "manager"),
		pids:       &pidFile{path: filepath.Join(opts.WorkDir, "pids")},
	}
	// Processes an earlier run left behind (it was SIGKILLed before its children started, or
	// older code ran without parent-death signals) would hold the manager's lease and ports.
	etcdBin, apiserverBin := filepath.Join(opts.AssetsDir, "etcd"), filepath.Join(opts.AssetsDir, "kube-apiserver")
	kcmBin := filepath.Join(opts.AssetsDir, controllerManagerBinary)
	if killed, err := KillStale(opts.WorkDir, etcdBin, apiserverBin, kcmBin, e.managerBin); err != nil {
		return nil, fmt.Errorf("cleaning up after an earlier run: %w", err)
	} else if len(killed) > 0 {
		_, _ = fmt.Fprintf(opts.ManagerOutput, "localenv: killed %d processes an earlier run in %s left behind: %v\n", len(killed), opts.WorkDir, killed)
	}
	etcdWrapper, apiserverWrapper := filepath.Join(opts.WorkDir, "etcd"), filepath.Join(opts.WorkDir, "kube-apiserver")
	if err := PdeathsigWrapper(etcdWrapper, etcdBin, e.pids.path); err != nil {
		return nil, err
	}
	if err := PdeathsigWrapper(apiserverWrapper, apiserverBin, e.pids.path); err != nil {
		return nil, err
	}
	e.testEnv = &envtest.Environment{
		BinaryAssetsDirectory: opts.AssetsDir,
		ControlPlane: envtest.ControlPlane{
			Etcd:        &envtest.Etcd{Path: etcdWrapper},
			APIServer:   &envtest.APIServer{Path: apiserverWrapper},
			KubectlPath: filepath.Join(opts.AssetsDir, "kubectl"),
		},
	}
	cfg, err := e.testEnv.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = e.stopControllerManager() // if started
			_ = e.testEnv.Stop()
		}
	}()
	e.AdminConfig = cfg
	if err := e.install(ctx); err != nil {
		return nil, err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", e.managerBin, ".")
	build.Dir = opts.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the manager: %w\n%s", err, out)
	}
	if opts.ControllerManager {
		if err := e.waitControllerManager(ctx); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// install writes the kubeconfigs, applies config/default, and starts what runs beside the
// manager: the webhook's loopback configuration and kube-controller-manager, when asked.
func (e *Env) install(ctx context.Context) error {
	if err := e.writeAdminKubeconfig(); err != nil {
		return err
	}
	if _, err := e.Kubectl(ctx, "apply", "--server-side", "-k", filepath.Join(e.opts.RepoRoot, "config", "default")); err != nil {
		return fmt.Errorf("applying config/default: %w", err)
	}
	if err := e.writeManagerKubeconfig(ctx); err != nil {
		return err
	}
	// Every CRD of config/default, BrowserContexts too: kube-controller-manager's garbage
	// collector must see them all when it starts.
	if _, err := e.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"); err != nil {
		return err
	}
	if e.opts.Webhook {
		if err := e.serveWebhookLocally(ctx); err != nil {
			return err
		}
	}
	if e.opts.ControllerManager {
		// Started once the CRDs are served, its garbage collector knows BrowserSessions from
		// the start (it rediscovers the API only every 30s); it comes up while the manager builds.
		return e.startControllerManager()
	}
	return nil
}

// writeAdminKubeconfig writes the cluster-admin kubeconfig, for kubectl.
func (e *Env) writeAdminKubeconfig() error {
	admin, err := e.testEnv.ControlPlane.AddUser(envtest.User{Name: "local-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	raw, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	e.AdminKubeconfig = filepath.Join(e.opts.WorkDir, "kubeconfig")
	return os.WriteFile(e.AdminKubeconfig, raw, 0o600)
}

// writeManagerKubeconfig writes the manager's kubeconfig: a token of the operator's
// ServiceAccount, as a Pod in a cluster gets, so that RBAC applies exactly as there (and the
// API server does the same work per request as there, which impersonation would not).
func (e *Env) writeManagerKubeconfig(ctx context.Context) error {
	token, err := e.Kubectl(ctx, "create", "token", ServiceAccount, "-n", OperatorNamespace, "--duration=48h")
	if err != nil {
		return fmt.Errorf("requesting a token for the operator's ServiceAccount: %w", err)
	}
	cfg, err := clientcmd.LoadFromFile(e.AdminKubeconfig)
	if err != nil {
		return err
	}
	for name := range cfg.AuthInfos {
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}
	}
	e.ManagerKubeconfig = filepath.Join(e.opts.WorkDir, "manager.kubeconfig")
	return clientcmd.WriteToFile(*cfg, e.ManagerKubeconfig)
}

// A Manager is one running manager process (a replica).
type Manager struct {
	*child
	// MetricsURL is where the manager serves metrics, if Options.Metrics is set.
	MetricsURL string
}

// child is a process the environment started itself (not through envtest).
type child struct {
	cmd    *exec.Cmd
	exited chan error
	done   bool
}

// startChild starts cmd in its own process group with SIGKILL as its parent-death signal (see
// ChildAttr) and records its PID.
func (e *Env) startChild(cmd *exec.Cmd) (*child, error) {
	cmd.SysProcAttr = ChildAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e.pids.add(cmd.Process.Pid)
	c := &child{cmd: cmd, exited: make(chan error, 1)}
	go func() { c.exited <- cmd.Wait() }()
	return c, nil
}

// StartReplica runs one more manager process, logging to out. Replicas elect a leader; they do
// not serve the webhook (the main manager does, on the one port the API server calls).
func (e *Env) StartReplica(out io.Writer) (*Manager, error) {
	return e.startManager(out, false)
}

// startManager runs a manager process, logging to out, serving the webhook when asked.
func (e *Env) startManager(out io.Writer, serveWebhook bool) (*Manager, error) {
	args := append([]string{
		"--kubeconfig=" + e.ManagerKubeconfig,
		"--leader-elect",
		"--leader-election-namespace=" + OperatorNamespace,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
	}, e.webhookArgs(serveWebhook)...)
	args = append(args, e.opts.ManagerArgs...)
	metricsURL := ""
	if e.opts.Metrics {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "--metrics-bind-address="+addr, "--metrics-secure=false")
		metricsURL = "http://" + addr + "/metrics"
	}
	cmd := exec.Command(e.managerBin, args...)
	cmd.Env = append(os.Environ(), "BROWSERBASE_BASE_URL="+e.opts.BrowserbaseURL, "BROWSERBASE_API_KEY="+e.opts.APIKey)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a Ctrl-C in the terminal must not stop the manager before the
	// BrowserSessions are deleted and their sessions released.
	c, err := e.startChild(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	m := &Manager{child: c, MetricsURL: metricsURL}
	e.replicas = append(e.replicas, m)
	return m, nil
}

// Stop stops the process with SIGTERM, as Kubernetes does, and waits for it to exit (SIGKILL
// after a minute).
func (c *child) Stop() error {
	if c == nil || c.done {
		return nil
	}
	c.done = true
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-c.exited:
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		err = c.wait()
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	return err
}

// Kill kills the process with SIGKILL, as a node failure or the OOM killer would: no cleanup,
// no lease handed over.
func (c *child) Kill() {
	if c == nil || c.done {
		return
	}
	c.done = true
	_ = c.cmd.Process.Kill()
	_ = c.wait() // killed: the exit status only says so; waiting reaps the process
}

// Stop stops the manager with SIGTERM, as Kubernetes does, and waits for it to exit. A nil
// Manager (stopped) is a no-op.
func (m *Manager) Stop() error {
	if m == nil {
		return nil
	}
	return m.child.Stop()
}

// Kill kills the manager with SIGKILL. A nil Manager is a no-op.
func (m *Manager) Kill() {
	if m != nil {
		m.child.Kill()
	}
}

// wait returns the process's exit status once it has exited.
func (c *child) wait() error { return <-c.exited }

// PID is the process id.
func (c *child) PID() int { return c.cmd.Process.Pid }

// Exited delivers the exit status if the process stops on its own.
func (c *child) Exited() <-chan error { return c.exited }

// StartManager runs the main manager, with the environment's ManagerOutput. It fails if it is
// already running.
func (e *Env) StartManager() error {
	if e.manager != nil {
		return errors.New("the manager is already running")
	}
	m, err := e.startManager(e.opts.ManagerOutput, true)
	if err != nil {
		return err
	}
	e.manager = m
	return nil
}

// StopManager stops the main manager with SIGTERM and waits for it to exit.
func (e *Env) StopManager() error {
	err := e.manager.Stop()
	e.manager = nil
	return err
}

// KillManager kills the main manager with SIGKILL.
func (e *Env) KillManager() {
	e.manager.Kill()
	e.manager = nil
}

// ManagerExited delivers the main manager's exit status if it stops on its own.
func (e *Env) ManagerExited() <-chan error { return e.manager.Exited() }

// Manager is the main manager, nil while it is stopped.
func (e *Env) Manager() *Manager { return e.manager }

// freeLoopbackAddr finds a loopback port nothing listens on.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// Stop stops every manager, kube-controller-manager and the control plane.
func (e *Env) Stop() error {
	var errs []error
	for _, m := range e.replicas {
		errs = append(errs, m.Stop())
	}
	e.manager = nil
	errs = append(errs, e.stopControllerManager())
	return errors.Join(append(errs, e.testEnv.Stop())...)
}

// Kubectl runs the source-built kubectl as the admin user and returns its stdout.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.opts.AssetsDir, "kubectl"), append([]string{"--kubeconfig=" + e.AdminKubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// AssetsDir builds (once) and returns the control-plane binaries' directory.
func AssetsDir(ctx context.Context, repoRoot string) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "hack", "envtest-binaries.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/envtest-binaries.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
