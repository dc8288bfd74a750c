package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

// run is what the phases share: the clients, the emulator and its front door, and the managers
// the stale phase starts itself.
type run struct {
	k8s         client.WithWatch
	emu         *emulator.Server
	front       *frontDoor
	env         *localenv.Env
	workDir     string
	url         string
	managerArgs []string // the main manager's, but for timeouts, leader election and namespaces

	staleA *standalone

	mu    sync.Mutex
	procs []*standalone
}

// phaseResult says how far an aimed phase got: reached, its fault happened at the moment it aims
// at; settled, the resource came to a clean end within the phase's wait.
type phaseResult struct {
	name             string
	reached, settled bool
	note             string
}

func (p phaseResult) String() string {
	return fmt.Sprintf("reached=%v settled=%v", p.reached, p.settled)
}

func (r *run) createSession(ctx context.Context, ns, name, keySecret string, timeout int32,
	renewal *v1alpha1.Renewal, settings *v1alpha1.BrowserSettings) error {
	bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	bs.Spec.Timeout = ptr(timeout)
	if keySecret != "" {
		bs.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: keySecret}
	}
	if renewal != nil {
		bs.Spec.Renewal = renewal.DeepCopy()
	}
	bs.Spec.BrowserSettings = settings
	return r.k8s.Create(ctx, bs)
}

func (r *run) createContext(ctx context.Context, name, keySecret string) error {
	bc := &v1alpha1.BrowserContext{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	bc.Spec.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: keySecret}
	return r.k8s.Create(ctx, bc)
}

// healthy says what is wrong with bs, if anything: it must be Ready, on a session that runs, whose
// id its Secret holds (the credentials a workload reads are the recorded session's).
func (r *run) healthy(ctx context.Context, bs *v1alpha1.BrowserSession) error {
	if !meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady) {
		return errors.New("not Ready")
	}
	if sess, ok := r.emu.Session(bs.Status.ID); !ok || sess.Status != "RUNNING" {
		return fmt.Errorf("its recorded session %q does not run", bs.Status.ID)
	}
	name := bs.Status.SecretName
	if name == "" {
		name = bs.Name + "-browserbase"
	}
	secret := &corev1.Secret{}
	if err := r.k8s.Get(ctx, types.NamespacedName{Namespace: bs.Namespace, Name: name}, secret); err != nil {
		return fmt.Errorf("reading its Secret: %w", err)
	}
	if id := string(secret.Data["sessionId"]); id != bs.Status.ID {
		return fmt.Errorf("its Secret holds session %q, status names %q", id, bs.Status.ID)
	}
	return nil
}

// unhealthy lists the resources of the chaos phases that are not healthy, and their contexts
// that are not Ready.
func (r *run) unhealthy(ctx context.Context, t *tally) []string {
	var out []string
	for _, bs := range t.existing {
		if chaosPhase(bs.Name) {
			if err := r.healthy(ctx, &bs); err != nil {
				out = append(out, bs.Name+": "+err.Error())
			}
		}
	}
	for _, bc := range t.contexts {
		if chaosPhase(bc.Name) && bc.DeletionTimestamp.IsZero() && !meta.IsStatusConditionTrue(bc.Status.Conditions, v1alpha1.ConditionReady) {
			out = append(out, "context "+bc.Name+": not Ready")
		}
	}
	sort.Strings(out)
	return out
}

// liveSessionsOf is the ids of the running sessions tagged with uid.
func (r *run) liveSessionsOf(uid types.UID) []string {
	var ids []string
	for _, s := range r.emu.Sessions() {
		if tagUID(s) == uid && live(s) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// readyWithSession waits for a resource to be Ready on a running session, and returns it.
func (r *run) readyWithSession(ctx context.Context, ns, name string) (*v1alpha1.BrowserSession, string) {
	bs := &v1alpha1.BrowserSession{}
	ok, why := within(ctx, 2*time.Minute, func(g Gomega) {
		g.Expect(r.k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, bs)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(bs.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%s is Ready", name)
		sess, found := r.emu.Session(bs.Status.ID)
		g.Expect(found && sess.Status == "RUNNING").To(BeTrue(), "%s's session runs", name)
	})
	if !ok {
		return nil, fmt.Sprintf("%s never got Ready: %s", name, why)
	}
	return bs, ""
}

// endAndLoseSuccessor ends bs's session, as its timeout would, and loses the answer of the
// create of its successor (renewal policy OnEnd); it returns once that create was made.
func (r *run) endAndLoseSuccessor(ctx context.Context, bs *v1alpha1.BrowserSession, key string) (string, error) {
	lost := r.front.loseNextCreate(key)
	if !r.emu.ExpireSession(bs.Status.ID) {
		return "", fmt.Errorf("session %s is unknown to the emulator", bs.Status.ID)
	}
	select {
	case id := <-lost:
		return id, nil
	case <-time.After(time.Minute):
		return "", errors.New("no successor was created after the session ended")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// expiryPhase deletes a renewing resource (OnEnd) right after its session expired, while its
// successor's create is unfinished (the answer was lost): the successor exists in Browserbase,
// unknown to status. The delete must not leave it running. The session expires by its own
// 60 s timeout, not the emulator's ExpireSession: status then holds an expiresAt that is past,
// as it would in a cluster; the phase runs beside the chaos to fit its minute in.
func (r *run) expiryPhase(ctx context.Context) phaseResult {
	res := phaseResult{name: "expiry"}
	bs, why := r.readyWithSession(ctx, namespace, "x-00")
	if bs == nil {
		res.note = why
		return res
	}
	lost := r.front.loseNextCreate(expiryKey)
	select {
	case <-lost:
	case <-time.After(2 * time.Minute):
		res.note = "no successor was created after the session ended"
		return res
	case <-ctx.Done():
		return res
	}
	res.reached, res.note = r.whileSuccessorUnfinished(ctx, bs, func(cur *v1alpha1.BrowserSession) error {
		return r.k8s.Delete(ctx, cur, client.Preconditions{ResourceVersion: &cur.ResourceVersion})
	})
	if !res.reached {
		return res
	}
	res.settled, res.note = within(ctx, 30*time.Second, func(g Gomega) {
		err := r.k8s.Get(ctx, client.ObjectKeyFromObject(bs), &v1alpha1.BrowserSession{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "x-00 is gone")
		g.Expect(r.liveSessionsOf(bs.UID)).To(BeEmpty(), "no session of x-00 runs")
	})
	return res
}

// whileSuccessorUnfinished applies change to bs while status.id still names the session that
// ended, so while its successor's create is unfinished (the create grace period leaves a few
// seconds). The change is made against that very version of bs (a resourceVersion
// precondition), so it lands in that window or not at all; it reports whether it did.
func (r *run) whileSuccessorUnfinished(ctx context.Context, bs *v1alpha1.BrowserSession, change func(*v1alpha1.BrowserSession) error) (bool, string) {
	return within(ctx, 15*time.Second, func(g Gomega) {
		cur := &v1alpha1.BrowserSession{}
		g.Expect(r.k8s.Get(ctx, client.ObjectKeyFromObject(bs), cur)).To(Succeed())
		if cur.Status.ID != bs.Status.ID {
			StopTrying(fmt.Sprintf("the successor's create was resolved (status.id %s) before the change", cur.Status.ID)).Now()
		}
		g.Expect(change(cur)).To(Succeed())
	})
}

// neverPhase switches spec.renewal.policy to Never while a successor's create is unfinished (the
// predecessor expired, the create's answer was lost). The successor was made, and must not be
// left running beside a resource that now reports its ended session.
func (r *run) neverPhase(ctx context.Context) phaseResult {
	res := phaseResult{name: "never"}
	bs, why := r.readyWithSession(ctx, namespace, "n-00")
	if bs == nil {
		res.note = why
		return res
	}
	if _, err := r.endAndLoseSuccessor(ctx, bs, neverKey); err != nil {
		res.note = err.Error()
		return res
	}
	res.reached, res.note = r.whileSuccessorUnfinished(ctx, bs, func(cur *v1alpha1.BrowserSession) error {
		patch := client.MergeFromWithOptions(cur.DeepCopy(), client.MergeFromWithOptimisticLock{})
		cur.Spec.Renewal = &v1alpha1.Renewal{Policy: v1alpha1.RenewalNever}
		return r.k8s.Patch(ctx, cur, patch)
	})
	if !res.reached {
		return res
	}
	// Longer than the create grace period, a sweep interval and a poll.
	res.settled, res.note = within(ctx, 30*time.Second, func(g Gomega) {
		cur := &v1alpha1.BrowserSession{}
		g.Expect(r.k8s.Get(ctx, client.ObjectKeyFromObject(bs), cur)).To(Succeed())
		for _, id := range r.liveSessionsOf(bs.UID) {
			g.Expect(id).To(Equal(cur.Status.ID), "the only session of n-00 that runs is its recorded one")
		}
	})
	return res
}

// stalePhase lets a manager that went stale resume. It is a simulation, with two managers that
// do not elect a leader (in their own namespace, which the main manager does not watch): A is
// stopped (SIGSTOP) when its renewal create reaches Browserbase, so the session is made and its
// answer waits in A's socket; B starts and takes over, past the create grace period; then A
// resumes (SIGCONT) with its pass in flight, and is killed 3 s later. With leader election the
// same happens to a leader paused (a long GC, a frozen VM) past its lease: when it resumes, its
// in-flight reconciles run on until its renewal finds the lease lost, within the renew deadline
// (3 s here); whether they write first is a race, which the simulation settles so that the
// stale pass always reaches its writes. A's call timeout is 30 s, longer than its pause, as for
// an answer that arrived just before the pause.
func (r *run) stalePhase(ctx context.Context) phaseResult {
	res := phaseResult{name: "stale"}
	a := r.staleA
	defer a.kill()
	bs, why := r.readyWithSession(ctx, staleNamespace, "stale-00")
	if bs == nil {
		res.note = why
		return res
	}
	stopped := make(chan struct{})
	r.front.beforeNextCreate(staleKey, func() {
		_ = a.cmd.Process.Signal(syscall.SIGSTOP)
		// The signal takes effect asynchronously: the create is served once every thread of A
		// has stopped, so that A cannot read the answer before its pause.
		waitStopped(a.cmd.Process.Pid)
		close(stopped)
	})
	if !r.emu.ExpireSession(bs.Status.ID) {
		res.note = "the session is unknown to the emulator"
		return res
	}
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		res.note = "no successor was created after the session ended"
		return res
	case <-ctx.Done():
		return res
	}
	r.startStandalone("stale-b", "--browserbase-timeout=5s", "--create-grace-period=5s")
	tookOver, why := within(ctx, time.Minute, func(g Gomega) {
		cur := &v1alpha1.BrowserSession{}
		g.Expect(r.k8s.Get(ctx, client.ObjectKeyFromObject(bs), cur)).To(Succeed())
		g.Expect(cur.Status.Revision).To(BeNumerically(">=", 2), "the second manager renewed stale-00")
		g.Expect(meta.IsStatusConditionTrue(cur.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
	})
	_ = a.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(3 * time.Second) // the renew deadline: how long a resumed leader runs before it exits
	a.kill()
	if !tookOver {
		res.note = "the second manager did not take over: " + why
		return res
	}
	res.reached = true
	res.settled, res.note = within(ctx, 30*time.Second, func(g Gomega) {
		cur := &v1alpha1.BrowserSession{}
		g.Expect(r.k8s.Get(ctx, client.ObjectKeyFromObject(bs), cur)).To(Succeed())
		g.Expect(r.healthy(ctx, cur)).To(Succeed())
	})
	return res
}

// waitStopped waits, up to 5 s, until every thread of process pid is stopped (state T in
// /proc/<pid>/task/*/stat).
func waitStopped(pid int) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, t := range tasks {
			raw, err := os.ReadFile(t)
			// The state follows the command name, which is in parentheses: "pid (comm) T ...".
			if i := bytes.LastIndexByte(raw, ')'); err == nil && i >= 0 && i+2 < len(raw) && raw[i+2] != 'T' && raw[i+2] != 't' {
				stopped = false
			}
		}
		if stopped {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// standalone is a manager process the suite starts itself, without leader election.
type standalone struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// kill kills the process (SIGKILL) and waits for it to exit; a stopped one too.
func (s *standalone) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// startStandalone runs a manager without leader election, watching staleNamespace only, logging
// to <workDir>/<name>.log, without the webhook (the main manager serves it, on the one port the
// webhook configuration names). The suite's cleanup kills it.
func (r *run) startStandalone(name string, args ...string) *standalone {
	out, err := os.Create(filepath.Join(r.workDir, name+".log"))
	Expect(err).NotTo(HaveOccurred())
	all := append([]string{
		"--kubeconfig=" + r.env.ManagerKubeconfig, "--leader-elect=false",
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--watch-namespaces=" + staleNamespace,
		"--webhook-port=0",
	}, r.managerArgs...)
	// localenv builds the manager binary into its work directory.
	cmd := exec.Command(filepath.Join(r.workDir, "manager"), append(all, args...)...)
	cmd.Env = append(os.Environ(), "BROWSERBASE_BASE_URL="+r.url, "BROWSERBASE_API_KEY="+defaultKey)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = localenv.ChildAttr()
	Expect(cmd.Start()).To(Succeed())
	s := &standalone{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(s.done)
	}()
	r.mu.Lock()
	r.procs = append(r.procs, s)
	r.mu.Unlock()
	return s
}

// stopAll kills every manager startStandalone started.
func (r *run) stopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.procs {
		s.kill()
	}
}
