package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// controllerManagerBinary is kube-controller-manager's name in the assets directory
// (hack/envtest-binaries.sh builds it from the same k8s.io/kubernetes as kube-apiserver).
const controllerManagerBinary = "kube-controller-manager"

// controllers is kube-controller-manager's --controllers: all of a cluster's, so workloads and
// owner references behave as there (Deployments make ReplicaSets and Pods, the garbage
// collector deletes what a deleted object owned, namespaces finish terminating), except those
// that manage Nodes or what runs on them. There is no Node and no kubelet (Pods stay Pending);
// these would only watch for them. The cloud controllers are no longer in kube-controller-manager.
var controllers = strings.Join([]string{
	"*",
	"-node-ipam-controller",
	"-node-lifecycle-controller",
	"-taint-eviction-controller",
	"-device-taint-eviction-controller",
	"-persistentvolume-attach-detach-controller",
	"-ttl-controller",
}, ",")

// checkControllerManager fails, saying how to build it, when assetsDir has no
// kube-controller-manager (a store built before hack/envtest-binaries.sh built it).
func checkControllerManager(assetsDir string) error {
	if _, err := os.Stat(filepath.Join(assetsDir, controllerManagerBinary)); err != nil {
		return fmt.Errorf("%s is not in %s: run hack/envtest-binaries.sh to build it (%w)", controllerManagerBinary, assetsDir, err)
	}
	return nil
}

// startControllerManager starts kube-controller-manager as cluster admin, logging to
// <WorkDir>/kube-controller-manager.log. It signs the legacy ServiceAccount token Secrets with
// the key the API server verifies them with (envtest generates it in the API server's cert
// directory). It does not wait for it: see waitControllerManager.
func (e *Env) startControllerManager() error {
	bin := filepath.Join(e.opts.AssetsDir, controllerManagerBinary)
	certDir := e.testEnv.ControlPlane.APIServer.CertDir
	e.ControllerManagerLog = filepath.Join(e.opts.WorkDir, controllerManagerBinary+".log")
	logFile, err := os.Create(e.ControllerManagerLog)
	if err != nil {
		return err
	}
	// The child has its own descriptor once started.
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(bin,
		"--kubeconfig="+e.AdminKubeconfig,
		"--controllers="+controllers,
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		// One identity, the admin's, rather than a ServiceAccount per controller: the RBAC
		// bootstrap policy that would grant those is the API server's, and not needed here.
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		// No HTTPS endpoint (health, metrics): readiness is a ServiceAccount it creates.
		"--secure-port=0",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	c, err := e.startChild(cmd)
	if err != nil {
		return fmt.Errorf("starting %s: %w", controllerManagerBinary, err)
	}
	e.controllerManager = c
	return nil
}

// waitControllerManager waits until kube-controller-manager's controllers run: its
// ServiceAccount controller has created the ServiceAccount every namespace gets, "default" in
// "default". It fails, with the end of the log, if the process exits first.
func (e *Env) waitControllerManager(ctx context.Context) error {
	clientset, err := kubernetes.NewForConfig(e.AdminConfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := clientset.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			return err
		}
		select {
		case exitErr := <-e.controllerManager.Exited():
			e.controllerManager.done = true
			if exitErr == nil {
				exitErr = errors.New("exit status 0")
			}
			return fmt.Errorf("%s exited (%w):\n%s", controllerManagerBinary, exitErr, logTail(e.ControllerManagerLog, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s did not create the default ServiceAccount (see %s): %w", controllerManagerBinary, e.ControllerManagerLog, ctx.Err())
		case <-tick.C:
		}
	}
}

// stopControllerManager stops kube-controller-manager with SIGTERM. Being stopped that way is
// its normal end, not an error.
func (e *Env) stopControllerManager() error {
	if e.controllerManager == nil {
		return nil
	}
	err := e.controllerManager.Stop()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() && status.Signal() == syscall.SIGTERM {
			err = nil
		}
	}
	e.controllerManager = nil
	return err
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
