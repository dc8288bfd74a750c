package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// The pods phase: Pods opt in to a session (label browserbase.io/session-template), the webhook
// the main manager serves names each one's Secret at admission, and the Pod controller makes one
// BrowserSession per Pod and deletes it when the Pod ends. 100 Pods are created over the chaos
// window, while the manager is killed and restarted, and most are ended as they go: their phase
// set to Succeeded or Failed (there is no kubelet to do it), or deleted; a few stay. The
// webhook's failurePolicy is Fail, so while the manager is down (or restarting, its certificate
// not yet served) an opted-in Pod is refused: the phase retries, as a ReplicaSet would, and
// counts the refusals.
const (
	podCount = 100
	// podTemplate names the phase's BrowserSessionTemplate; the webhook names each Pod's
	// BrowserSession <template>-<suffix>, which phaseOf files under pods.
	podTemplate = "pod"
	podsKey     = "bb_faults_pods_key_0123456789abc"
)

// podEnd is what happens to a Pod after it is created.
type podEnd int

const (
	podStays podEnd = iota
	podSucceeds
	podFails
	podDeleted
)

// podsPhase creates and ends the phase's Pods, and checks what the operator made of them.
type podsPhase struct {
	k8s client.Client
	rng *rand.Rand // its own: the phase runs beside the chaos loop, which has the suite's

	mu       sync.Mutex
	ends     map[string]podEnd // by Pod name, drawn before the run
	created  map[string]types.UID
	ended    map[podEnd]int
	refused  int   // creates the webhook refused (down, or its certificate not yet served)
	err      error // an unexpected error, which stopped the phase
	finished bool
}

func newPodsPhase(k8s client.Client, seed uint64) *podsPhase {
	p := &podsPhase{
		k8s: k8s, rng: rand.New(rand.NewPCG(seed, 1)),
		ends: map[string]podEnd{}, created: map[string]types.UID{}, ended: map[podEnd]int{},
	}
	// 10 stay, 30 succeed, 25 fail, 35 are deleted, in a random order.
	order := p.rng.Perm(podCount)
	for i, n := range order {
		end := podDeleted
		switch {
		case i < 10:
			end = podStays
		case i < 40:
			end = podSucceeds
		case i < 65:
			end = podFails
		}
		p.ends[podName(n)] = end
	}
	return p
}

func podName(i int) string { return fmt.Sprintf("w-%03d", i) }

// template is the phase's BrowserSessionTemplate: an hour-long session on the phase's own key,
// so that its creates do not queue behind the main phase's creation-rate limit.
func (p *podsPhase) template() *v1alpha1.BrowserSessionTemplate {
	tpl := &v1alpha1.BrowserSessionTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: podTemplate}}
	tpl.Spec.Template.Timeout = ptr(int32(3600))
	tpl.Spec.Template.APIKeySecretRef = &v1alpha1.APIKeySecretReference{Name: "pods"}
	return tpl
}

// run creates the Pods, one every spread/podCount (later when the webhook refuses them), and
// ends each at its own moment: a fifth at once, likely before its session is made, the others
// within 15 s. It returns once every Pod is created and every end applied.
func (p *podsPhase) run(ctx context.Context, spread time.Duration) {
	defer func() {
		p.mu.Lock()
		p.finished = true
		p.mu.Unlock()
	}()
	type ending struct {
		name string
		at   time.Time
	}
	var pending []ending
	interval := spread / podCount
	start := time.Now()
	next := start
	created := 0
	for (created < podCount || len(pending) > 0) && ctx.Err() == nil {
		now := time.Now()
		sort.Slice(pending, func(i, j int) bool { return pending[i].at.Before(pending[j].at) })
		for len(pending) > 0 && !pending[0].at.After(now) {
			if err := p.end(ctx, pending[0].name); err != nil {
				p.fail(err)
				return
			}
			pending = pending[1:]
		}
		if created < podCount && !next.After(now) {
			name := podName(created)
			refused, err := p.create(ctx, name)
			switch {
			case err != nil:
				p.fail(err)
				return
			case refused:
				next = now.Add(250 * time.Millisecond)
			default:
				created++
				next = start.Add(time.Duration(created) * interval)
				if p.ends[name] != podStays {
					delay := time.Duration(p.rng.IntN(500)) * time.Millisecond
					if p.rng.IntN(5) > 0 {
						delay = time.Second + time.Duration(p.rng.IntN(14000))*time.Millisecond
					}
					pending = append(pending, ending{name: name, at: now.Add(delay)})
				}
			}
		}
		// Pacing, not a wait for state: the next create or end is due then.
		wake := now.Add(100 * time.Millisecond)
		if created < podCount && next.Before(wake) {
			wake = next
		}
		if len(pending) > 0 && pending[0].at.Before(wake) {
			wake = pending[0].at
		}
		time.Sleep(time.Until(wake))
	}
}

func (p *podsPhase) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// create creates one opted-in Pod; refused says the webhook could not be called, which with
// failurePolicy Fail refuses the Pod.
func (p *podsPhase) create(ctx context.Context, name string) (refused bool, err error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: name,
			Labels: map[string]string{v1alpha1.LabelSessionTemplate: podTemplate},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Image: "example.invalid/worker:1"}}},
	}
	err = p.k8s.Create(ctx, pod)
	switch {
	case err == nil:
		p.mu.Lock()
		p.created[name] = pod.UID
		p.mu.Unlock()
		return false, nil
	case strings.Contains(err.Error(), "failed calling webhook"):
		p.mu.Lock()
		p.refused++
		p.mu.Unlock()
		return true, nil
	}
	return false, fmt.Errorf("creating Pod %s: %w", name, err)
}

// end applies the Pod's end: its phase set through the status subresource, as the kubelet
// would, or a delete (immediate: the Pod is on no node).
func (p *podsPhase) end(ctx context.Context, name string) error {
	end := p.ends[name]
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	var err error
	switch end {
	case podSucceeds, podFails:
		phase := corev1.PodSucceeded
		if end == podFails {
			phase = corev1.PodFailed
		}
		err = p.k8s.Status().Patch(ctx, pod, client.RawPatch(types.MergePatchType,
			fmt.Appendf(nil, `{"status":{"phase":%q}}`, phase)))
	case podDeleted:
		err = p.k8s.Delete(ctx, pod)
	}
	if err != nil {
		return fmt.Errorf("ending Pod %s: %w", name, err)
	}
	p.mu.Lock()
	p.ended[end]++
	p.mu.Unlock()
	return nil
}

// head and tail frame the phase's figures in the summary.
func (p *podsPhase) head() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("pods=%d succeeded=%d failed=%d deleted=%d remaining=%d",
		len(p.created), p.ended[podSucceeds], p.ended[podFails], p.ended[podDeleted],
		len(p.created)-p.ended[podSucceeds]-p.ended[podFails]-p.ended[podDeleted])
}

func (p *podsPhase) tail(t *tally) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("refused_creates=%d extra_browsersessions=%d", p.refused, extraSessionsPerPod(t))
}

// extraSessionsPerPod is the BrowserSessions made beyond one per Pod over the run (the watch saw
// them all). A Pod's session name is fixed at admission, so a second one can only follow the
// first's deletion: made from a cache that had not yet seen the Pod end, and deleted again.
func extraSessionsPerPod(t *tally) int {
	perPod := map[types.UID]int{}
	for uid, pod := range t.podOf {
		if phaseOf(t.names[uid]) == "pods" {
			perPod[pod]++
		}
	}
	extra := 0
	for _, n := range perPod {
		extra += n - 1
	}
	return extra
}

// check lists what is wrong with the phase's end state, once the Pods are done: every Pod that
// runs has exactly one BrowserSession, Ready on its one live session whose credentials its
// Secret holds; no BrowserSession is left for a Pod that is gone or finished, and no session
// made for such a Pod still runs.
func (p *podsPhase) check(ctx context.Context, r *run, t *tally) []string {
	p.mu.Lock()
	finished, err, created := p.finished, p.err, len(p.created)
	p.mu.Unlock()
	var out []string
	if err != nil {
		return []string{"the Pods could not be created and ended: " + err.Error()}
	}
	if !finished || created != podCount {
		return []string{fmt.Sprintf("%d of %d Pods created, finished %v", created, podCount, finished)}
	}
	pods := &corev1.PodList{}
	if err := r.k8s.List(ctx, pods, client.InNamespace(namespace), client.HasLabels{v1alpha1.LabelSessionTemplate}); err != nil {
		return []string{"listing the Pods: " + err.Error()}
	}
	// describe names a gone or finished Pod and what the phase did to it, for the diagnosis.
	names := map[types.UID]string{}
	p.mu.Lock()
	for name, uid := range p.created {
		names[uid] = name
	}
	p.mu.Unlock()
	describe := func(pod types.UID) string {
		name := names[pod]
		return fmt.Sprintf("Pod %s (%s)", name, [...]string{"stays", "succeeded", "failed", "deleted"}[p.ends[name]])
	}
	runningPods := map[types.UID]string{}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp.IsZero() && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			runningPods[pod.UID] = pod.Name
			if p.ends[pod.Name] != podStays {
				out = append(out, fmt.Sprintf("Pod %s runs, but was ended", pod.Name))
			}
		}
	}
	sessionsOfPod := map[types.UID][]v1alpha1.BrowserSession{}
	for uid, bs := range t.existing {
		if phaseOf(bs.Name) != "pods" {
			continue
		}
		pod := t.podOf[uid]
		if _, runs := runningPods[pod]; !runs {
			out = append(out, fmt.Sprintf("BrowserSession %s is left for %s", bs.Name, describe(pod)))
			continue
		}
		sessionsOfPod[pod] = append(sessionsOfPod[pod], bs)
	}
	for pod, name := range runningPods {
		sessions := sessionsOfPod[pod]
		if len(sessions) != 1 {
			out = append(out, fmt.Sprintf("Pod %s has %d BrowserSessions", name, len(sessions)))
			continue
		}
		bs := sessions[0]
		if err := r.healthy(ctx, &bs); err != nil {
			out = append(out, fmt.Sprintf("Pod %s's BrowserSession %s: %v", name, bs.Name, err))
		}
		if live := r.liveSessionsOf(bs.UID); len(live) != 1 {
			out = append(out, fmt.Sprintf("Pod %s's BrowserSession %s has %d live sessions", name, bs.Name, len(live)))
		}
	}
	for uid, pod := range t.podOf {
		if _, runs := runningPods[pod]; runs || phaseOf(t.names[uid]) != "pods" {
			continue
		}
		if live := r.liveSessionsOf(uid); len(live) > 0 {
			out = append(out, fmt.Sprintf("%d sessions of BrowserSession %s of %s run", len(live), t.names[uid], describe(pod)))
		}
	}
	sort.Strings(out)
	return out
}
