package queue

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newTest returns queues on a fake clock at t0, with repeatable jitter, and a key of the test's
// own, so that metrics series do not mix between tests.
func newTest(t testing.TB) (*Queues, *clocktesting.FakeClock, Key) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	q := New(clk, func(types.NamespacedName) {})
	q.rand = rand.New(rand.NewPCG(1, 2))
	k := Key("BrowserbaseProject/test/" + strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() { q.Remove(k) })
	return q, clk, k
}

// first is a first-session request named name in namespace "ns", arrived at t0+arrival.
func first(name string, arrival time.Duration) Request {
	return Request{UID: types.UID(name), Name: types.NamespacedName{Namespace: "ns", Name: name}, Arrival: t0.Add(arrival)}
}

// ordered is r with Order order.
func ordered(r Request, order uint64) Request {
	r.Order = order
	return r
}

func renewal(name string, arrival, deadline time.Duration) Request {
	r := first(name, arrival)
	r.Renewal = true
	if deadline != 0 {
		r.Deadline = t0.Add(deadline)
	}
	return r
}

// drain registers reqs at t0 in the given order, then each step asks for every waiter in a
// random order, and returns the names in the order they were admitted.
func drain(t *testing.T, q *Queues, clk *clocktesting.FakeClock, k Key, reqs []Request, step time.Duration) []string {
	t.Helper()
	pending := append([]Request(nil), reqs...)
	for _, r := range pending {
		if q.Admit(k, r).Admitted {
			t.Fatalf("%s admitted at registration, before the others could register", r.Name.Name)
		}
	}
	rnd := rand.New(rand.NewPCG(7, 7))
	var got []string
	for i := 0; i < 1000 && len(pending) > 0; i++ {
		clk.Step(step)
		rnd.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
		var left []Request
		for _, r := range pending {
			if q.Admit(k, r).Admitted {
				got = append(got, r.Name.Name)
			} else {
				left = append(left, r)
			}
		}
		pending = left
	}
	return got
}

func TestOrder(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		reqs []Request // registered in this order
		want []string
	}{
		{"by arrival, not by first ask",
			[]Request{first("c", -3*s), first("a", -5*s), first("b", -4*s)},
			[]string{"a", "b", "c"}},
		{"ties by first ask",
			[]Request{first("x", -5*s), first("b", -3*s), first("a", -3*s), first("c", -4*s)},
			[]string{"x", "c", "b", "a"}},
		{"ties by creation order when known, before first ask",
			[]Request{ordered(first("b", -3*s), 20), ordered(first("c", -3*s), 30), ordered(first("a", -3*s), 10)},
			[]string{"a", "b", "c"}},
		{"a renewal without a deadline waits its turn",
			[]Request{first("f1", -9*s), renewal("r", -8*s, 0), first("f2", -7*s)},
			[]string{"f1", "r", "f2"}},
		{"a renewal whose deadline is far keeps its place by arrival",
			[]Request{first("f1", -10*s), first("f2", -9*s), renewal("r", -5*s, time.Hour)},
			[]string{"f1", "f2", "r"}},
		// Slots come each second from t0+2s: at its place r would go at t0+7s, after its deadline.
		{"a renewal that would miss its deadline goes first",
			[]Request{first("f1", -10*s), first("f2", -9*s), first("f3", -8*s), first("f4", -7*s), first("f5", -6*s), renewal("r", -5*s, 5*s)},
			[]string{"r", "f1", "f2", "f3", "f4", "f5"}},
		{"urgent renewals by deadline",
			[]Request{first("f1", -10*s), first("f2", -9*s), first("f3", -8*s), renewal("r1", -5*s, 6*s), renewal("r2", -4*s, 5*s)},
			[]string{"r2", "r1", "f1", "f2", "f3"}},
		{"a renewal past its deadline goes first",
			[]Request{first("f1", -10*s), first("f2", -9*s), renewal("r", -5*s, -time.Minute)},
			[]string{"r", "f1", "f2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, clk, k := newTest(t)
			q.SetLimits(k, Limits{CreatesPerMinute: 60})
			got := drain(t, q, clk, k, tt.reqs, time.Second)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("admitted %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSpacingAndWindow(t *testing.T) {
	t.Run("a backlog goes evenly at 60s/limit", func(t *testing.T) {
		q, clk, k := newTest(t)
		q.SetLimits(k, Limits{CreatesPerMinute: 3})
		reqs := []Request{first("a", -3*time.Second), first("b", -2*time.Second), first("c", -time.Second), first("d", 0)}
		for _, r := range reqs {
			q.Admit(k, r)
		}
		var at []time.Duration
		for i := 0; i < 100 && len(at) < len(reqs); i++ {
			clk.Step(time.Second)
			if q.Admit(k, reqs[len(at)]).Admitted {
				at = append(at, clk.Since(t0))
			}
		}
		want := []time.Duration{2 * time.Second, 22 * time.Second, 42 * time.Second, 62 * time.Second}
		if fmt.Sprint(at) != fmt.Sprint(want) {
			t.Errorf("admitted at %v, want %v", at, want)
		}
	})
	t.Run("a limit set after a burst waits for the burst to leave the window", func(t *testing.T) {
		q, clk, k := newTest(t)
		for i := range 10 {
			if !q.Admit(k, first(fmt.Sprint(i), 0)).Admitted {
				t.Fatalf("no limit known: request %d was not admitted", i)
			}
		}
		q.SetLimits(k, Limits{CreatesPerMinute: 10})
		d := q.Admit(k, first("late", 0))
		if d.Admitted || !d.At.Equal(t0.Add(time.Minute)) {
			t.Fatalf("got %+v, want a wait until the burst leaves the window at t0+1m", d)
		}
		clk.Step(time.Minute - time.Millisecond)
		if q.Admit(k, first("late", 0)).Admitted {
			t.Fatal("admitted while 10 creates were in the last minute")
		}
		clk.Step(time.Millisecond)
		if !q.Admit(k, first("late", 0)).Admitted {
			t.Fatal("not admitted once the burst left the window")
		}
	})
	t.Run("no limit known: every waiter that asks goes", func(t *testing.T) {
		q, _, k := newTest(t)
		for _, n := range []string{"c", "a", "b"} {
			if d := q.Admit(k, first(n, 0)); !d.Admitted {
				t.Errorf("%s: %+v, want admitted", n, d)
			}
		}
		if s := q.Stats(k); s.Waiting != 0 || s.CreatesLastMinute != 3 || s.Live != 3 {
			t.Errorf("stats %+v, want 0 waiting, 3 creates, 3 live", s)
		}
	})
}

func TestEstimates(t *testing.T) {
	q, clk, k := newTest(t)
	q.SetLimits(k, Limits{CreatesPerMinute: 60})
	clk.Step(10 * time.Second) // past the settle time
	for i := range 100 {
		q.Admit(k, first(fmt.Sprintf("w%03d", i), time.Duration(i)*time.Millisecond-time.Hour))
	}
	// w000 was admitted at t0+10s; the next slots come each second.
	for _, p := range []int{1, 2, 10, 50, 99} {
		d := q.Admit(k, first(fmt.Sprintf("w%03d", p), time.Duration(p)*time.Millisecond-time.Hour))
		wantAt := t0.Add(10*time.Second + time.Duration(p)*time.Second)
		if d.Admitted || d.Position != p || d.Waiting != 99 || !d.At.Equal(wantAt) || d.Reason != ReasonQueued {
			t.Errorf("w%03d: got %+v, want position %d of 99 at %v, Queued", p, d, p, wantAt)
		}
		until := d.At.Sub(clk.Now())
		lo, hi := max(min(until, maxRetry-maxRetry/10), time.Second), min(max(until+until/10, time.Second), maxRetry)
		if d.RetryAfter < lo || d.RetryAfter > hi {
			t.Errorf("w%03d: RetryAfter %v, want within [%v, %v]", p, d.RetryAfter, lo, hi)
		}
	}
}

func TestMessage(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	q := New(clk, func(types.NamespacedName) {})
	k := Key("BrowserbaseProject/team-a/main")
	defer q.Remove(k)
	aged(q, k)
	q.SetLimits(k, Limits{CreatesPerMinute: 100})
	clk.Step(settle)
	for i := range 60 {
		clk.Step(600 * time.Millisecond)
		q.Admit(k, first(fmt.Sprint(i), 0))
	}
	q.Throttled(k, time.Second, false) // 60 admitted in the last minute, one refused: 59 learned
	clk.Step(2 * time.Second)
	for i := range 40 { // 60 creates in the window, over the limit: nobody goes yet
		q.Admit(k, first(fmt.Sprintf("w%d", i), time.Duration(i)))
	}
	d := q.Admit(k, first("w2", 2))
	want := "Position 3 of 40 in the create queue of BrowserbaseProject team-a/main: at most 59 creates a minute (learned from a 429)"
	if d.Message != want {
		t.Errorf("message %q, want %q", d.Message, want)
	}
	for key, want := range map[Key]string{
		"BrowserbaseProject/team-a/main":   "BrowserbaseProject team-a/main",
		"ClusterBrowserbaseProject/shared": "ClusterBrowserbaseProject shared",
		"key:ab12cd34":                     "the API key with hash ab12cd34",
	} {
		if got := keyText(key); got != want {
			t.Errorf("keyText(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestReRegister(t *testing.T) {
	q, _, k := newTest(t)
	q.SetLimits(k, Limits{CreatesPerMinute: 60})
	q.Admit(k, first("a", -3*time.Second))
	q.Admit(k, first("b", -2*time.Second))
	if d := q.Admit(k, first("b", -2*time.Second)); d.Position != 2 || d.Waiting != 2 {
		t.Errorf("asking again: %+v, want position 2 of 2 (no second registration)", d)
	}
	if d := q.Admit(k, first("b", -4*time.Second)); d.Position != 1 {
		t.Errorf("an earlier arrival: %+v, want position 1", d)
	}
	other := k + "-other"
	defer q.Remove(other)
	q.SetLimits(other, Limits{CreatesPerMinute: 60})
	if d := q.Admit(other, first("b", -4*time.Second)); d.Waiting != 1 || q.Stats(k).Waiting != 1 {
		t.Errorf("moved to another queue: %+v, old queue %+v; want it in the new queue only", d, q.Stats(k))
	}
	q.Forget("a")
	q.Forget("unknown")
	if s := q.Stats(k); s.Waiting != 0 {
		t.Errorf("after Forget: %+v, want none waiting", s)
	}
}

// The first Order given for a resource is kept: later passes carry a later resourceVersion.
func TestOrderIsKeptFromTheFirstAsk(t *testing.T) {
	q, clk, k := newTest(t)
	q.SetLimits(k, Limits{CreatesPerMinute: 60})
	a, b := ordered(first("a", -time.Second), 10), ordered(first("b", -time.Second), 20)
	q.Admit(k, b)
	q.Admit(k, a)
	a.Order = 99 // written since: its status says Queued
	clk.Step(2 * time.Second)
	if d := q.Admit(k, b); d.Admitted {
		t.Fatal("b went before a, declared first")
	}
	if d := q.Admit(k, a); !d.Admitted {
		t.Fatalf("a not admitted: %+v", d)
	}
}
