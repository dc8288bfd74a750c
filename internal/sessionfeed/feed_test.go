package sessionfeed

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
	"github.com/browserbase/session-operator/internal/queue"
)

const key = browserbase.Sensitive("bb_test_key")

func running(id, namespace string) browserbase.Session {
	return browserbase.Session{ID: id, Status: browserbase.StatusRunning,
		UserMetadata: map[string]any{"k8s": map[string]any{"namespace": namespace}}}
}

type fixture struct {
	feed  *Feed
	clock *clocktesting.FakeClock
	list  []browserbase.Session
	fail  bool
	woken []types.NamespacedName
	live  map[queue.Key][]int
	bb    *browserbasetest.Client
}

func newFixture() *fixture {
	fx := &fixture{clock: clocktesting.NewFakeClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)), live: map[queue.Key][]int{}}
	fx.bb = &browserbasetest.Client{ListSessionsFn: func(_ context.Context, _ browserbase.Sensitive, opts browserbase.ListOptions) ([]browserbase.Session, error) {
		if opts.Status != browserbase.StatusRunning {
			return nil, errors.New("the feed lists running sessions only")
		}
		if fx.fail {
			return nil, errors.New("unreachable")
		}
		return fx.list, nil
	}}
	fx.feed = &Feed{Browserbase: fx.bb, Clock: fx.clock, Interval: 5 * time.Second,
		Wake: func(n types.NamespacedName) { fx.woken = append(fx.woken, n) },
		Live: func(k queue.Key, total int, byNamespace map[string]int, _ time.Time) {
			fx.live[k] = []int{total, byNamespace["team-a"], byNamespace["team-b"]}
		}}
	return fx
}

// tick lists once, an interval later.
func (fx *fixture) tick() {
	fx.clock.Step(5 * time.Second)
	fx.feed.ListAll(context.Background())
}

func TestAnEndedSessionWakesItsResourceAtTheNextList(t *testing.T) {
	fx := newFixture()
	a := types.NamespacedName{Namespace: "team-a", Name: "a"}
	b := types.NamespacedName{Namespace: "team-b", Name: "b"}
	fx.feed.Track(key, "q", "s-a", a)
	fx.feed.Track(key, "q", "s-b", b)
	fx.list = []browserbase.Session{running("s-a", "team-a"), running("s-b", "team-b"), running("other", "")}
	fx.tick()
	if len(fx.woken) != 0 {
		t.Fatalf("woken %v while both run", fx.woken)
	}
	if got := fx.live["q"]; !slices.Equal(got, []int{3, 1, 1}) {
		t.Errorf("live counts %v, want total 3 (an untagged session counts against the project too), 1 per namespace", got)
	}
	sess, ok := fx.feed.Lookup(key, "s-a")
	if !ok || sess == nil || sess.ID != "s-a" {
		t.Fatalf("Lookup(s-a) = %v, %v; want the listed session", sess, ok)
	}

	fx.list = []browserbase.Session{running("s-a", "team-a")}
	fx.tick()
	if !slices.Equal(fx.woken, []types.NamespacedName{b}) {
		t.Fatalf("woken %v, want only %v", fx.woken, b)
	}
	if sess, ok := fx.feed.Lookup(key, "s-b"); !ok || sess != nil {
		t.Errorf("Lookup(s-b) = %v, %v; want known not running", sess, ok)
	}
	fx.tick()
	if len(fx.woken) != 1 {
		t.Errorf("woken again: %v; a resource is woken once per end", fx.woken)
	}
	if len(fx.bb.Calls()) != 3 {
		t.Errorf("%d calls for 3 lists of 2 sessions", len(fx.bb.Calls()))
	}
}

func TestLookupIsUnknownUntilAListFollowsTheTrackAndWhenStale(t *testing.T) {
	fx := newFixture()
	fx.list = []browserbase.Session{running("s-a", "team-a")}
	fx.feed.Track(key, "q", "s-a", types.NamespacedName{Namespace: "team-a", Name: "a"})
	if _, ok := fx.feed.Lookup(key, "s-a"); ok {
		t.Fatal("known before any list")
	}
	fx.tick()
	fx.feed.Track(key, "q", "s-new", types.NamespacedName{Namespace: "team-a", Name: "new"})
	if _, ok := fx.feed.Lookup(key, "s-new"); ok {
		t.Error("a session tracked after the last list is known from it")
	}
	if _, ok := fx.feed.Lookup(key, "s-a"); !ok {
		t.Error("s-a not known after a list")
	}
	fx.fail = true
	fx.tick()
	fx.tick()
	fx.clock.Step(time.Second)
	if _, ok := fx.feed.Lookup(key, "s-a"); ok {
		t.Error("known from a list more than two intervals old: callers must read it themselves")
	}
	if _, ok := fx.feed.Lookup("another-key", "s-a"); ok {
		t.Error("known for a key never listed")
	}
}

func TestUnusedAccountsStopBeingListed(t *testing.T) {
	fx := newFixture()
	fx.feed.Track(key, "q", "s-a", types.NamespacedName{Namespace: "team-a", Name: "a"})
	fx.feed.Untrack(key, "s-a")
	fx.tick()
	calls := len(fx.bb.Calls())
	fx.clock.Step(idleAfter)
	fx.tick()
	fx.tick()
	if got := len(fx.bb.Calls()); got != calls {
		t.Errorf("%d more lists for a key no resource uses", got-calls)
	}
}

func TestASessionNoResourceHoldsIsReportedOnceAsALeak(t *testing.T) {
	fx := newFixture()
	var leaks []string
	fx.feed.ClusterID, fx.feed.LeakAge = "cluster-a", time.Minute
	fx.feed.Unknown = func(uid types.UID, name types.NamespacedName) { leaks = append(leaks, string(uid)+" "+name.String()) }
	tagged := func(id, uid, cluster string, created time.Time) browserbase.Session {
		tag := map[string]any{"uid": uid, "namespace": "team-a", "name": "r-" + uid}
		if cluster != "" {
			tag["cluster"] = cluster
		}
		return browserbase.Session{ID: id, Status: browserbase.StatusRunning, CreatedAt: created, UserMetadata: map[string]any{"k8s": tag}}
	}
	old := fx.clock.Now().Add(-time.Hour)
	fx.feed.Track(key, "q", "held", types.NamespacedName{Namespace: "team-a", Name: "r-1"})
	fx.list = []browserbase.Session{
		tagged("held", "1", "cluster-a", old),
		tagged("leaked", "2", "cluster-a", old),
		tagged("other-cluster", "3", "cluster-b", old),
		tagged("young", "4", "cluster-a", fx.clock.Now()),
		running("untagged", ""),
	}
	fx.tick()
	if len(leaks) != 0 {
		t.Fatalf("reported %v after one list: a session must be listed twice", leaks)
	}
	fx.tick()
	if want := []string{"2 team-a/r-2"}; !slices.Equal(leaks, want) {
		t.Fatalf("leaks %v, want %v (not the held one, another cluster's, a young one, or an untagged one)", leaks, want)
	}
	fx.tick()
	if len(leaks) != 1 {
		t.Errorf("reported again: %v", leaks)
	}
}

// A key that serves a project object and is named directly too tells both queues.
func TestEveryQueueOfTheKeyIsToldTheLiveCount(t *testing.T) {
	fx := newFixture()
	fx.feed.Track(key, "project", "s-a", types.NamespacedName{Namespace: "team-a", Name: "a"})
	fx.feed.Track(key, "direct", "s-b", types.NamespacedName{Namespace: "team-b", Name: "b"})
	fx.list = []browserbase.Session{running("s-a", "team-a"), running("s-b", "team-b")}
	fx.tick()
	for _, q := range []queue.Key{"project", "direct"} {
		if got := fx.live[q]; !slices.Equal(got, []int{2, 1, 1}) {
			t.Errorf("queue %s told %v, want the key's 2 live sessions", q, got)
		}
	}
}
