package browsersession

import (
	"errors"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// The queue's reasons are the API's condition reasons.
func TestQueueReasonsAreConditionReasons(t *testing.T) {
	for got, want := range map[string]string{
		queue.ReasonQueued: v1alpha1.ReasonQueued, queue.ReasonRateLimited: v1alpha1.ReasonRateLimited,
		queue.ReasonConcurrencyLimitReached: v1alpha1.ReasonConcurrencyLimitReached,
	} {
		if got != want {
			t.Errorf("queue reason %q, condition reason %q", got, want)
		}
	}
}

func TestQueueRequest(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	due := metav1.NewTime(created.Add(40 * time.Minute))
	expires := metav1.NewTime(created.Add(time.Hour))
	ended := metav1.NewTime(created.Add(50 * time.Minute))
	clk := newFakeClock()
	cases := map[string]struct {
		status       v1alpha1.BrowserSessionStatus
		wantRenewal  bool
		wantArrival  time.Time
		wantDeadline time.Time
	}{
		"a first session arrives when its resource was declared": {wantArrival: created.Time},
		"a renewal arrives when it fell due, and must be served before its predecessor expires": {
			status:      v1alpha1.BrowserSessionStatus{ID: "s", SessionStatus: "RUNNING", RenewalTime: &due, ExpiresAt: &expires},
			wantRenewal: true, wantArrival: due.Time, wantDeadline: expires.Time,
		},
		"a replacement of an ended session arrives when it ended, with no deadline left": {
			status:      v1alpha1.BrowserSessionStatus{ID: "s", SessionStatus: "TIMED_OUT", EndedAt: &ended, ExpiresAt: &expires},
			wantRenewal: true, wantArrival: ended.Time,
		},
		"a renewal with nothing recorded arrives now": {
			status: v1alpha1.BrowserSessionStatus{ID: "s", SessionStatus: "COMPLETED"}, wantRenewal: true, wantArrival: clk.Now(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bs := &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bs", UID: "u", CreationTimestamp: created},
				Status: tc.status}
			r := &Reconciler{Kit: reconcile.Kit{Clock: clk}}
			got := r.queueRequest(bs)
			if got.UID != "u" || got.Name != (types.NamespacedName{Namespace: "ns", Name: "bs"}) || got.Renewal != tc.wantRenewal ||
				!got.Arrival.Equal(tc.wantArrival) || !got.Deadline.Equal(tc.wantDeadline) {
				t.Errorf("queueRequest = %+v, want renewal %t arrival %s deadline %s", got, tc.wantRenewal, tc.wantArrival, tc.wantDeadline)
			}
		})
	}
}

// A create that waits in the queue shows its place and an absolute estimate, and keeps a serving
// predecessor Ready; once admitted, the place goes.
func TestAdmitShowsThePlaceInTheQueue(t *testing.T) {
	clk := newFakeClock()
	q := queue.New(clk, nil)
	r := &Reconciler{Kit: reconcile.Kit{Clock: clk}, Queue: q}
	entry := &project.Entry{Limits: queue.Limits{CreatesPerMinute: 6}}
	bs := func(name string, offset time.Duration) *v1alpha1.BrowserSession {
		return &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name),
			CreationTimestamp: metav1.NewTime(clk.Now().Add(offset))}}
	}
	first, second := bs("first", -time.Minute), bs("second", -time.Second)
	_ = r.admit(&pass{bs: second, queue: "p", project: entry})
	err := r.admit(&pass{bs: first, queue: "p", project: entry})
	for range 3 {
		clk.Step(time.Second)
		if err = r.admit(&pass{bs: first, queue: "p", project: entry}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("the first declared is not admitted: %v", err)
	}
	if first.Status.QueuePosition != 0 || first.Status.QueueEstimate != nil {
		t.Errorf("an admitted create still shows a place: %+v", first.Status)
	}
	err = r.admit(&pass{bs: second, queue: "p", project: entry})
	var wait *reconcile.WaitError
	if !errors.As(err, &wait) || wait.Reason != v1alpha1.ReasonQueued || wait.KeepReady {
		t.Fatalf("second = %v, want a Queued wait", err)
	}
	if second.Status.QueuePosition != 1 || second.Status.QueueEstimate == nil || !second.Status.QueueEstimate.After(clk.Now()) {
		t.Errorf("second shows position %d, estimate %v", second.Status.QueuePosition, second.Status.QueueEstimate)
	}
	if second.Status.QueueEstimate.Nanosecond() != 0 {
		t.Error("the estimate is not in whole seconds: status would be rewritten as it moves")
	}

	renewal := bs("renewal", -time.Hour)
	exp := metav1.NewTime(clk.Now().Add(10 * time.Minute))
	renewal.Status = v1alpha1.BrowserSessionStatus{ID: "old", SessionStatus: "RUNNING", ExpiresAt: &exp, RenewalTime: ptr.To(metav1.NewTime(clk.Now()))}
	if err := r.admit(&pass{bs: renewal, queue: "p", project: entry}); !errors.As(err, &wait) || !wait.KeepReady {
		t.Errorf("a waiting renewal = %v, want a wait that keeps its serving predecessor Ready", err)
	}
}

// A 429 teaches the queue; a refused create gives back the slot it took.
func TestCreateRefusedTellsTheQueue(t *testing.T) {
	rec := &recordingQueue{}
	r := &Reconciler{Queue: rec}
	p := &pass{bs: &v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{UID: "u"}}, queue: "p"}
	r.createRefused(p, browserbasetest.Status(http.StatusTooManyRequests, "You've exceeded your max concurrent sessions limit"))
	r.createRefused(p, browserbasetest.Status(http.StatusBadRequest, "bad region"))
	r.createRefused(p, browserbasetest.Status(http.StatusBadGateway, "maybe created"))
	want := []string{"throttled concurrency=true", "requeue u", "failed u"}
	if len(rec.calls) != len(want) {
		t.Fatalf("calls %v, want %v", rec.calls, want)
	}
	for i := range want {
		if rec.calls[i] != want[i] {
			t.Errorf("call %d = %q, want %q (a 5xx may have created: it keeps its slot)", i, rec.calls[i], want[i])
		}
	}
}

type recordingQueue struct{ calls []string }

func (q *recordingQueue) SetLimits(queue.Key, queue.Limits) {}
func (q *recordingQueue) Admit(queue.Key, queue.Request) queue.Decision {
	return queue.Decision{Admitted: true}
}
func (q *recordingQueue) Throttled(_ queue.Key, _ time.Duration, c bool) {
	q.calls = append(q.calls, "throttled concurrency="+map[bool]string{true: "true", false: "false"}[c])
}
func (q *recordingQueue) Failed(_ queue.Key, uid types.UID) {
	q.calls = append(q.calls, "failed "+string(uid))
}
func (q *recordingQueue) Requeue(_ queue.Key, uid types.UID) {
	q.calls = append(q.calls, "requeue "+string(uid))
}
func (q *recordingQueue) Forget(types.UID) {}

func TestWithProjectDefaults(t *testing.T) {
	defaults := &v1alpha1.SessionDefaults{Region: "eu-central-1", Timeout: ptr.To[int32](120), KeepAlive: ptr.To(true),
		BrowserSettings: &v1alpha1.BrowserSettings{BlockAds: ptr.To(true)}}
	entry := &project.Entry{ProjectID: "proj", Defaults: defaults}
	got := withProjectDefaults(v1alpha1.BrowserSessionSpec{}, entry)
	if got.ProjectID != "proj" || got.Region != "eu-central-1" || *got.Timeout != 120 || !*got.KeepAlive || !*got.BrowserSettings.BlockAds {
		t.Errorf("empty spec with defaults = %+v", got)
	}
	own := v1alpha1.BrowserSessionSpec{ProjectID: "mine", Region: "us-east-1", Timeout: ptr.To[int32](60), KeepAlive: ptr.To(false),
		BrowserSettings: &v1alpha1.BrowserSettings{SolveCaptchas: ptr.To(false)}}
	got = withProjectDefaults(own, entry)
	if got.ProjectID != "mine" || got.Region != "us-east-1" || *got.Timeout != 60 || *got.KeepAlive || got.BrowserSettings.BlockAds != nil {
		t.Errorf("a session's own values must win, and settings are never mixed: %+v", got)
	}
	if got := withProjectDefaults(own, nil); got.Region != "us-east-1" {
		t.Errorf("no project changed the spec: %+v", got)
	}
}

func TestProjectChanged(t *testing.T) {
	project := func(gen int64, ready metav1.ConditionStatus, msg string, running int32) *v1alpha1.BrowserbaseProject {
		p := &v1alpha1.BrowserbaseProject{}
		p.Status.ObservedGeneration, p.Status.SessionsRunning = gen, running
		p.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: ready, Message: msg}}
		return p
	}
	base := project(1, metav1.ConditionTrue, "ok", 0)
	cases := map[string]struct {
		next *v1alpha1.BrowserbaseProject
		want bool
	}{
		"only the counts moved":       {next: project(1, metav1.ConditionTrue, "ok", 5), want: false},
		"a new spec was published":    {next: project(2, metav1.ConditionTrue, "ok", 0), want: true},
		"it turned Ready False":       {next: project(1, metav1.ConditionFalse, "Secret gone", 0), want: true},
		"why it is not Ready changed": {next: project(1, metav1.ConditionTrue, "plan concurrency 3", 0), want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := projectChanged.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: tc.next}); got != tc.want {
				t.Errorf("projectChanged = %t, want %t", got, tc.want)
			}
		})
	}
	marked := project(1, metav1.ConditionTrue, "ok", 0)
	marked.Annotations = map[string]string{v1alpha1.AnnotationDefaultProject: "true"}
	if !projectChanged.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: marked}) {
		t.Error("the default mark does not wake the sessions")
	}
}
