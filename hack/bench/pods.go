package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

// The pods phase: a Deployment of opted-in Pods, scaled from 0 to o.pods and back, in a
// namespace of its own (the standalone BrowserSessions stay where they are, Ready, meanwhile).
const (
	podsNamespace = "bench-pods"
	podsTemplate  = "bench"
	podsApp       = "bench-pods"
)

// podsResult is what the pods phase measured.
type podsResult struct {
	pods int
	// scaled is the scale-up to the last Pod's Secret; podsSeen to the last Pod seen
	// (kube-controller-manager's own pace, which bounds the first).
	scaled, podsSeen time.Duration
	latencies        []time.Duration // Pod seen → its Secret seen, sorted
	bringUp          window
	// Browserbase calls for the Pods' sessions during bring-up (lists: every list, the
	// standalone sessions' too), and releases after the scale-down.
	bb                           map[string]int
	creates, duplicates, missing int // sessions, extra sessions for one BrowserSession, Pods without a Secret
	released                     int
	// releaseTime is the scale-down to the last session released; podsGone to the last Pod
	// deleted (kube-controller-manager's pace again).
	releaseTime, podsGone time.Duration
}

// measurePods runs the pods phase: the template and a Deployment at replicas 0, then scaled to
// o.pods; it follows Pods and Secrets with watches until every Pod's Secret exists, checks that
// each Pod's BrowserSession made exactly one session, then scales to 0 and waits until every
// one is released.
func measurePods(ctx context.Context, o options, env *localenv.Env, emu *emulator.Server, k8s client.WithWatch) (podsResult, error) {
	r := podsResult{pods: o.pods}
	if err := createWorkload(ctx, k8s); err != nil {
		return r, err
	}
	if err := waitWebhook(ctx, k8s); err != nil {
		return r, err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	seen := followPods(watchCtx, k8s)

	log.Printf("scaling a Deployment of opted-in Pods from 0 to %d", o.pods)
	before, err := snapshot(ctx, env, emu)
	if err != nil {
		return r, err
	}
	firstRequest := len(emu.Requests())
	start := time.Now()
	if err := scale(ctx, k8s, o.pods); err != nil {
		return r, err
	}
	if err := seen.wait(o.pods, start.Add(o.timeout)); err != nil {
		return r, err
	}
	r.scaled = time.Since(start)
	after, err := snapshot(ctx, env, emu)
	if err != nil {
		return r, err
	}
	r.bringUp = diff(before, after)
	r.bringUp.seconds = r.scaled.Seconds()
	r.latencies, r.podsSeen = seen.latencies(start)
	lastRequest := len(emu.Requests())
	stopWatch()

	if r.missing, err = missingSecrets(ctx, k8s); err != nil {
		return r, err
	}
	ids := podSessions(emu, &r)
	r.bb = podCalls(emu.Requests()[firstRequest:lastRequest], ids)
	log.Printf("every Pod's Secret seen %s after the scale-up; scaling to 0", r.scaled.Round(time.Millisecond))
	return r, release(ctx, o, emu, k8s, ids, &r)
}

// createWorkload creates the namespace, the BrowserSessionTemplate and the Deployment, at
// replicas 0.
func createWorkload(ctx context.Context, k8s client.Client) error {
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: podsNamespace}}); err != nil {
		return err
	}
	if err := k8s.Create(ctx, &v1alpha1.BrowserSessionTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: podsNamespace, Name: podsTemplate},
	}); err != nil {
		return err
	}
	labels := map[string]string{"app": podsApp, v1alpha1.LabelSessionTemplate: podsTemplate}
	return k8s.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: podsNamespace, Name: podsApp},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": podsApp}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       podSpec(),
			},
		},
	})
}

// podSpec is the bench's Pod: it never runs (there is no kubelet), only its Secret matters.
func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Image: "example.invalid/worker:1"}}}
}

// waitWebhook waits until the manager serves the webhook (it issues its certificate first):
// until an opted-in Pod, created as a dry run, comes back with its Secret's name. Otherwise
// the ReplicaSet controller's first creates would be refused and retried after a back-off,
// which the figures would count.
func waitWebhook(ctx context.Context, k8s client.Client) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: podsNamespace, Name: "webhook-probe",
				Labels: map[string]string{v1alpha1.LabelSessionTemplate: podsTemplate}},
			Spec: podSpec(),
		}
		err := k8s.Create(ctx, pod, client.DryRunAll)
		if err == nil && pod.Annotations[v1alpha1.AnnotationSessionSecret] != "" {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("no " + v1alpha1.AnnotationSessionSecret + " annotation")
			}
			return fmt.Errorf("the webhook did not inject a dry-run Pod in 2 minutes: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func scale(ctx context.Context, k8s client.Client, replicas int) error {
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: podsNamespace, Name: podsApp}}
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	return k8s.Patch(ctx, dep, client.RawPatch(types.MergePatchType, []byte(patch)))
}

// podWatch records when a watch first saw each Pod (with the Secret it names) and each Secret.
// The watch's time, not creationTimestamp, which has a resolution of a second.
type podWatch struct {
	mu      sync.Mutex
	pods    map[string]seenPod
	secrets map[string]time.Time
}

type seenPod struct {
	at     time.Time
	secret string
}

// followPods watches the namespace's Pods and Secrets until ctx ends; a watch the API server
// ends is opened again (it replays current state, which changes no first sighting).
func followPods(ctx context.Context, k8s client.WithWatch) *podWatch {
	p := &podWatch{pods: map[string]seenPod{}, secrets: map[string]time.Time{}}
	go follow(ctx, func() (watch.Interface, error) {
		return k8s.Watch(ctx, &corev1.PodList{}, client.InNamespace(podsNamespace))
	}, func(obj client.Object) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		p.mu.Lock()
		if _, seen := p.pods[pod.Name]; !seen {
			p.pods[pod.Name] = seenPod{at: time.Now(), secret: pod.Annotations[v1alpha1.AnnotationSessionSecret]}
		}
		p.mu.Unlock()
	})
	go follow(ctx, func() (watch.Interface, error) {
		return k8s.Watch(ctx, &corev1.SecretList{}, client.InNamespace(podsNamespace))
	}, func(obj client.Object) {
		p.mu.Lock()
		if _, seen := p.secrets[obj.GetName()]; !seen {
			p.secrets[obj.GetName()] = time.Now()
		}
		p.mu.Unlock()
	})
	return p
}

// follow hands every object a watch delivers to f, until ctx ends.
func follow(ctx context.Context, open func() (watch.Interface, error), f func(client.Object)) {
	for ctx.Err() == nil {
		w, err := open()
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			if obj, ok := ev.Object.(client.Object); ok && ev.Type != watch.Deleted {
				f(obj)
			}
		}
		w.Stop()
	}
}

// wait returns once n Pods have been seen with their Secrets, or fails at deadline.
func (p *podWatch) wait(n int, deadline time.Time) error {
	for {
		p.mu.Lock()
		done := 0
		for _, pod := range p.pods {
			if _, ok := p.secrets[pod.secret]; ok {
				done++
			}
		}
		pods := len(p.pods)
		p.mu.Unlock()
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("correctness breach: %d of %d Pods seen, %d with their Secret, in time", pods, n, done)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// latencies returns each Pod's latency from being seen to its Secret being seen (sorted), and
// when the last Pod was seen after start.
func (p *podWatch) latencies(start time.Time) ([]time.Duration, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	var last time.Time
	for _, pod := range p.pods {
		if pod.at.After(last) {
			last = pod.at
		}
		if at, ok := p.secrets[pod.secret]; ok {
			out = append(out, max(0, at.Sub(pod.at)))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, last.Sub(start)
}

// missingSecrets counts the Pods (listed now) whose Secret does not exist.
func missingSecrets(ctx context.Context, k8s client.Client) (int, error) {
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(podsNamespace)); err != nil {
		return 0, err
	}
	secrets := &corev1.SecretList{}
	if err := k8s.List(ctx, secrets, client.InNamespace(podsNamespace)); err != nil {
		return 0, err
	}
	have := map[string]bool{}
	for _, s := range secrets.Items {
		have[s.Name] = true
	}
	missing := 0
	for _, pod := range pods.Items {
		if !have[pod.Annotations[v1alpha1.AnnotationSessionSecret]] {
			missing++
		}
	}
	return missing, nil
}

// podSessions counts the sessions the emulator holds for the namespace's BrowserSessions (by
// the k8s tag every create carries) into r, and returns their IDs.
func podSessions(emu *emulator.Server, r *podsResult) map[string]bool {
	ids := map[string]bool{}
	perUID := map[string]int{}
	for _, s := range emu.Sessions() {
		tag, _ := s.UserMetadata[v1alpha1.ReservedMetadataKey].(map[string]any)
		if tag["namespace"] != podsNamespace {
			continue
		}
		ids[s.ID] = true
		perUID[fmt.Sprint(tag["uid"])]++
	}
	r.creates = len(ids)
	r.duplicates = 0
	for _, c := range perUID {
		r.duplicates += c - 1
	}
	return ids
}

// podCalls counts requests by kind: those naming a session only when it is one of ids.
func podCalls(requests []emulator.Request, ids map[string]bool) map[string]int {
	calls := map[string]int{}
	for _, req := range requests {
		kind := req.Kind()
		id, _, _ := strings.Cut(strings.TrimPrefix(req.Path, "/v1/sessions/"), "/")
		if (kind == "get" || kind == "release") && !ids[id] {
			continue
		}
		calls[kind]++
	}
	return calls
}

// release scales to 0 and waits until the emulator holds none of ids PENDING or RUNNING.
func release(ctx context.Context, o options, emu *emulator.Server, k8s client.Client, ids map[string]bool, r *podsResult) error {
	first := len(emu.Requests())
	start := time.Now()
	if err := scale(ctx, k8s, 0); err != nil {
		return err
	}
	deadline := start.Add(o.timeout)
	for i := 0; ; i++ {
		if r.podsGone == 0 && i%4 == 0 { // once a second: a list of every Pod is not free
			pods := &metav1.PartialObjectMetadataList{}
			pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
			if err := k8s.List(ctx, pods, client.InNamespace(podsNamespace)); err == nil && len(pods.Items) == 0 {
				r.podsGone = time.Since(start)
			}
		}
		live := 0
		r.released = 0
		for _, s := range emu.Sessions() {
			if !ids[s.ID] {
				continue
			}
			if s.Status == "PENDING" || s.Status == "RUNNING" {
				live++
			} else {
				r.released++
			}
		}
		if live == 0 && r.podsGone != 0 {
			r.releaseTime = time.Since(start)
			r.bb["release"] = podCalls(emu.Requests()[first:], ids)["release"]
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("correctness breach: %d sessions of scaled-down Pods still live after %s (Pods all gone: %t)",
				live, o.timeout, r.podsGone != 0)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// breach says what is wrong with the pods phase, "" if nothing.
func (r podsResult) breach() string {
	switch {
	case r.duplicates > 0 || r.creates != r.pods:
		return fmt.Sprintf("%d sessions for %d Pods (%d duplicates)", r.creates, r.pods, r.duplicates)
	case r.missing > 0:
		return fmt.Sprintf("%d Pods without their Secret", r.missing)
	case r.released != r.creates:
		return fmt.Sprintf("%d of %d sessions released", r.released, r.creates)
	}
	return ""
}

// reportPods prints the pods phase beside the standalone BrowserSessions' bring-up.
func reportPods(o options, s result, r podsResult) {
	n, pn := float64(o.n), float64(r.pods)
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	pct := func(l []time.Duration) string {
		return fmt.Sprintf("%s / %s / %s", ms(percentile(l, .5)), ms(percentile(l, .9)), ms(percentile(l, .99)))
	}
	row := func(name string, standalone, pods any) { fmt.Printf("%-54s %-28v %v\n", name, standalone, pods) }
	per := func(v int, by float64) string { return fmt.Sprintf("%.3f", float64(v)/by) }

	fmt.Println()
	row("", fmt.Sprintf("standalone (%d)", o.n), fmt.Sprintf("Pods of a Deployment (%d)", r.pods))
	row("bring-up (create or scale-up to the last Secret/Ready)", ms(s.bringUpTime), ms(r.scaled))
	row("  last Pod seen after the scale-up", "-", ms(r.podsSeen)+" (kube-controller-manager's pace)")
	row("latency p50 / p90 / p99", pct(s.latencies)+" (create->Ready)", pct(r.latencies)+" (Pod->Secret)")
	row("sessions created per resource", per(s.creates, n), per(r.creates, pn)+fmt.Sprintf(" (duplicates %d)", r.duplicates))
	for _, kind := range []string{"get", "list"} {
		row("Browserbase "+kind+"s per resource (bring-up)", per(s.bringUp.bb[kind], n), per(r.bb[kind], pn))
	}
	for _, kind := range []string{objectWrite, eventWrite, read} {
		row("Kubernetes "+kind, per(s.bringUp.k8sCount(kind), n), per(r.bringUp.k8sCount(kind), pn))
		for _, key := range slices.Sorted(maps.Keys(r.bringUp.k8s)) {
			if kindOf(key) == kind {
				row("  "+key, per(s.bringUp.k8s[key], n), per(r.bringUp.k8s[key], pn))
			}
		}
	}
	row("manager CPU seconds (whole machine)", fmt.Sprintf("%.1f (%.1f)", s.bringUp.cpu, s.bringUp.host),
		fmt.Sprintf("%.1f (%.1f)", r.bringUp.cpu, r.bringUp.host))
	row("Pods without their Secret", "-", r.missing)
	row("scale to 0: sessions released / time to release all", "-", fmt.Sprintf("%d / %s", r.released, ms(r.releaseTime)))
	row("  last Pod deleted after the scale-down", "-", ms(r.podsGone)+" (kube-controller-manager's pace)")
	fmt.Println("(per resource; for Pods, POST browsersessions is the manager's, Browserbase lists are every list in the\n" +
		"window, and event writes include kube-controller-manager's, a few dozen for the Deployment and ReplicaSet)")

	fmt.Printf("bench pods summary: pods=%d bringup_s=%.2f pods_seen_s=%.2f p50_ms=%d p90_ms=%d p99_ms=%d "+
		"creates_per_pod=%.3f duplicates=%d gets_per_pod=%.3f lists=%d "+
		"object_writes_per_pod=%.3f event_writes_per_pod=%.3f reads_per_pod=%.3f "+
		"missing_secrets=%d released=%d release_s=%.2f pods_gone_s=%.2f releases_per_pod=%.3f cpu_bringup_s=%.1f\n",
		r.pods, r.scaled.Seconds(), r.podsSeen.Seconds(), percentile(r.latencies, .5).Milliseconds(),
		percentile(r.latencies, .9).Milliseconds(), percentile(r.latencies, .99).Milliseconds(),
		float64(r.creates)/pn, r.duplicates, float64(r.bb["get"])/pn, r.bb["list"],
		float64(r.bringUp.k8sCount(objectWrite))/pn, float64(r.bringUp.k8sCount(eventWrite))/pn,
		float64(r.bringUp.k8sCount(read))/pn, r.missing, r.released, r.releaseTime.Seconds(), r.podsGone.Seconds(), float64(r.bb["release"])/pn, r.bringUp.cpu)
}
