package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/localenv"
)

// A browser for every Pod: the template sample, and a Deployment whose Pods opt in to it.
const (
	templateSample   = "config/samples/browserbase_v1alpha1_browsersessiontemplate.yaml"
	deploymentSample = "config/samples/workloads/template-deployment.yaml"
	deployment       = "scraper-pool"
	podSelector      = "app=scraper-pool"
	replicas         = 3
)

// podSession is an opted-in Pod and its session, as the table shows them.
type podSession struct {
	pod, name, id, ready string
}

// showPods applies the template and the Deployment, shows each Pod's session and Secret, runs
// the workload once per Pod with that Pod's own Secret (w nil: no browser, not run), then
// scales the Deployment to 0 and shows the sessions released.
func showPods(ctx context.Context, env *localenv.Env, w *workload, api *browserbase.HTTPClient, apiKey string) error {
	fmt.Printf("\nA browser for every Pod: the BrowserSessionTemplate %s and the Deployment %s (%d replicas) that opts in.\n",
		templateSample, deploymentSample, replicas)
	for _, f := range []string{templateSample, deploymentSample} {
		out, err := env.Kubectl(ctx, "apply", "-f", f)
		if err != nil {
			return err
		}
		fmt.Print(out)
	}
	sessions, err := waitPodSessions(ctx, env)
	if err != nil {
		return err
	}
	printPodSessions(sessions)
	if tpl, err := env.Kubectl(ctx, "get", "browsersessiontemplate", "scraper"); err == nil {
		fmt.Print("\n" + tpl)
	}
	if w != nil {
		fmt.Println("\nNo kubelet runs here, so the Pods stay Pending; standing in for it, the example workload runs once per Pod,\neach time with that Pod's own Secret (its connectUrl in a file, as the Secret volume would have it):")
		for _, s := range sessions {
			title, err := w.run(ctx, env, s.name, "pods/"+s.pod)
			if err != nil {
				return fmt.Errorf("the workload of Pod %s: %w", s.pod, err)
			}
			fmt.Printf("  %s (session %s): page title %q\n", s.pod, s.id, title)
		}
	}
	return scaleDown(ctx, env, sessions, api, apiKey)
}

// waitPodSessions waits for the Deployment's Pods, each annotated with its Secret by the
// webhook, and for each one's BrowserSession to be Ready with its Secret written.
func waitPodSessions(ctx context.Context, env *localenv.Env) ([]podSession, error) {
	var sessions []podSession
	err := poll(ctx, 2*time.Minute, func() (bool, error) {
		out, err := env.Kubectl(ctx, "get", "pods", "-l", podSelector, "-o",
			`go-template={{range .items}}{{.metadata.name}} {{index .metadata.annotations "browserbase.io/session-secret"}}{{"\n"}}{{end}}`)
		if err != nil {
			return false, err
		}
		sessions = sessions[:0]
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				sessions = append(sessions, podSession{pod: f[0], name: f[1]})
			}
		}
		return len(sessions) == replicas, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d Pods with a session Secret each: %w", replicas, err)
	}
	for i := range sessions {
		s := &sessions[i]
		if _, err := env.Kubectl(ctx, "wait", "browsersession/"+s.name, "--for=condition=Ready", "--timeout=120s"); err != nil {
			describe, _ := env.Kubectl(ctx, "describe", "browsersession/"+s.name)
			return nil, fmt.Errorf("%w\n%s", err, describe)
		}
		out, err := env.Kubectl(ctx, "get", "browsersession/"+s.name, "-o",
			`jsonpath={.status.id} {.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return nil, err
		}
		if f := strings.Fields(out); len(f) == 2 {
			s.id, s.ready = f[0], f[1]
		}
		if _, err := env.Kubectl(ctx, "get", "secret", s.name, "-o", "name"); err != nil {
			return nil, err
		}
	}
	return sessions, nil
}

func printPodSessions(sessions []podSession) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	_, _ = fmt.Fprintln(tw, "POD\tSECRET/BROWSERSESSION\tSESSION ID\tREADY")
	for _, s := range sessions {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.pod, s.name, s.id, s.ready)
	}
	_ = tw.Flush()
}

// scaleDown scales the Deployment to 0 and shows what goes with its Pods: the BrowserSessions
// (deleted by the operator), their Secrets (by the garbage collector) and their Browserbase
// sessions (released by the operator).
func scaleDown(ctx context.Context, env *localenv.Env, sessions []podSession, api *browserbase.HTTPClient, apiKey string) error {
	fmt.Printf("\n$ kubectl scale deployment/%s --replicas=0\n", deployment)
	if _, err := env.Kubectl(ctx, "scale", "deployment/"+deployment, "--replicas=0"); err != nil {
		return err
	}
	if err := waitPodsGone(ctx, env); err != nil {
		return err
	}
	for _, s := range sessions {
		for _, kind := range []string{"browsersession", "secret"} {
			if _, err := env.Kubectl(ctx, "wait", "--for=delete", kind+"/"+s.name, "--timeout=120s"); err != nil {
				return err
			}
		}
	}
	fmt.Printf("The %d Pods are gone. The operator deleted their BrowserSessions, releasing their sessions, and the garbage\n"+
		"collector deleted the Secrets the BrowserSessions owned:\n", len(sessions))
	for _, s := range sessions {
		session, err := api.GetSession(ctx, browserbase.Sensitive(apiKey), s.id)
		if err != nil {
			return fmt.Errorf("reading session %s: %w", s.id, err)
		}
		fmt.Printf("  %s: BrowserSession and Secret deleted; session %s is %s\n", s.name, s.id, session.Status)
	}
	if tpl, err := env.Kubectl(ctx, "get", "browsersessiontemplate", "scraper"); err == nil {
		fmt.Print("\n" + tpl)
	}
	return nil
}

// waitPodsGone waits for the Deployment's Pods to go. kube-controller-manager deletes them; a
// Pod never scheduled to a node is removed at once by the API server. One still there after a
// while is force-deleted, standing in for the kubelet that would confirm it stopped.
func waitPodsGone(ctx context.Context, env *localenv.Env) error {
	gone := func() (bool, error) {
		out, err := env.Kubectl(ctx, "get", "pods", "-l", podSelector, "-o", "name")
		return strings.TrimSpace(out) == "", err
	}
	err := poll(ctx, time.Minute, gone)
	if err == nil || ctx.Err() != nil {
		return err
	}
	log.Print("the Pods are still there (Terminating, no kubelet to confirm they stopped): deleting them with --grace-period=0 --force")
	if _, err := env.Kubectl(ctx, "delete", "pods", "-l", podSelector, "--grace-period=0", "--force"); err != nil {
		return err
	}
	return poll(ctx, time.Minute, gone)
}

// poll calls done every half second until it says so, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// deletePods deletes the Deployment and its Pods, before the BrowserSessions: a Pod left would
// get a new session. Foreground deletion waits for kube-controller-manager's garbage collector
// to delete the ReplicaSet and the Pods first.
func deletePods(ctx context.Context, env *localenv.Env) {
	if _, err := env.Kubectl(ctx, "delete", "deployment", deployment, "--ignore-not-found", "--cascade=foreground", "--wait", "--timeout=60s"); err != nil {
		log.Printf("deleting the Deployment %s: %v", deployment, err)
	}
	if _, err := env.Kubectl(ctx, "delete", "pods", "-l", "browserbase.io/session-template", "--ignore-not-found", "--wait", "--timeout=30s"); err != nil {
		log.Printf("deleting the opted-in Pods: %v", err)
	}
}
