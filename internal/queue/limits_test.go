package queue

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// aged makes k's queue as if it had been made a minute before t0: old enough to learn from a 429.
func aged(q *Queues, k Key) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.get(k, t0.Add(-time.Minute))
}

func TestThrottled(t *testing.T) {
	q, clk, k := newTest(t)
	aged(q, k)
	for i := range 26 {
		clk.Step(100 * time.Millisecond)
		q.Admit(k, first(fmt.Sprint(i), 0))
	}
	// The 26th create was refused: the caller reports the 429, then takes the create back.
	q.Throttled(k, 30*time.Second, false)
	q.Failed(k, "25")
	if s := q.Stats(k); s.CreatesPerMinute != 25 || !s.Learned || s.CreatesLastMinute != 25 || s.Live != 25 {
		t.Fatalf("stats %+v, want 25 a minute learned, 25 creates and 25 live", s)
	}

	r := renewal("r", 0, time.Hour)
	d := q.Admit(k, r)
	closedUntil := t0.Add(2600*time.Millisecond + 30*time.Second)
	if d.Admitted || d.Reason != ReasonRateLimited || !strings.Contains(d.Message, "no creates until") {
		t.Fatalf("renewal while closed: %+v, want RateLimited", d)
	}
	// After the close, the 25 creates of the last minute must leave the window first.
	if want := t0.Add(100*time.Millisecond + time.Minute); !d.At.Equal(want) || d.At.Before(closedUntil) {
		t.Errorf("At %v, want %v", d.At, want)
	}
	clk.SetTime(d.At)
	if d := q.Admit(k, r); !d.Admitted {
		t.Fatalf("at its slot: %+v, want admitted", d)
	}

	// A 429 with 25 creates in the window, the refused one among them: Browserbase allows 24.
	q.Throttled(k, time.Second, false)
	if s := q.Stats(k); s.CreatesPerMinute != 24 {
		t.Errorf("after a second 429: %+v, want the limit lowered to 24", s)
	}
	// A budget lower than the learned limit is in force.
	q.SetLimits(k, Limits{CreatesPerMinute: 20})
	if s := q.Stats(k); s.CreatesPerMinute != 20 || s.Learned {
		t.Errorf("budget 20: %+v, want 20, not learned", s)
	}
	q.SetLimits(k, Limits{CreatesPerMinute: 50})
	clk.Step(forgetAfter - time.Second)
	if s := q.Stats(k); s.CreatesPerMinute != 24 || !s.Learned {
		t.Errorf("before 10 minutes: %+v, want the learned 24", s)
	}
	clk.Step(time.Second)
	if s := q.Stats(k); s.CreatesPerMinute != 50 || s.Learned {
		t.Errorf("10 minutes after the last 429: %+v, want the budget of 50 again", s)
	}
}

func TestConcurrency(t *testing.T) {
	q, clk, k := newTest(t)
	q.SetLimits(k, Limits{Concurrency: 3})
	q.SetLive(k, 3, nil, t0)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		d := q.Admit(k, first(n, time.Duration(n[0])))
		if d.Admitted || d.Reason != ReasonConcurrencyLimitReached || !d.At.IsZero() ||
			d.RetryAfter < concurrencyRetry || d.RetryAfter > concurrencyRetry*11/10 {
			t.Fatalf("%s at the limit: %+v, want ConcurrencyLimitReached, no estimate, about 30s", n, d)
		}
		if !strings.Contains(d.Message, "3 sessions live, at most 3 at once (the project's limit)") {
			t.Errorf("message %q", d.Message)
		}
	}
	clk.Step(time.Second)
	q.SetLive(k, 1, nil, t0.Add(500*time.Millisecond))
	q.SetLive(k, 0, nil, t0.Add(-time.Second))
	if s := q.Stats(k); s.Live != 1 {
		t.Fatalf("a list older than the last one changed the live count: %+v", s)
	}
	// Two sessions may start: without a creation limit the first two waiters go, whichever asks first.
	for _, c := range []struct {
		name  string
		admit bool
	}{{"b", true}, {"e", false}, {"a", true}, {"c", false}} {
		if d := q.Admit(k, first(c.name, time.Duration(c.name[0]))); d.Admitted != c.admit {
			t.Errorf("%s: %+v, want admitted %v", c.name, d, c.admit)
		}
	}
	if s := q.Stats(k); s.Live != 3 || s.Waiting != 3 {
		t.Errorf("stats %+v, want 3 live (1 listed, 2 admitted since), 3 waiting", s)
	}
	// a made nothing; c takes its place and Browserbase refuses it for its concurrency limit.
	q.Failed(k, "a")
	if d := q.Admit(k, first("c", 'c')); !d.Admitted {
		t.Fatalf("c: %+v, want admitted", d)
	}
	q.Throttled(k, 10*time.Second, true)
	q.Failed(k, "c")
	d := q.Admit(k, first("d", 'd'))
	if s := q.Stats(k); s.Concurrency != 2 || s.Learned {
		t.Errorf("after a concurrency 429: %+v, want concurrency 2 learned, no creation limit", s)
	}
	if d.Reason != ReasonConcurrencyLimitReached || !strings.Contains(d.Message, "learned from a 429") {
		t.Errorf("d: %+v", d)
	}
	q.SetLimits(k, Limits{Concurrency: 3})
	if s := q.Stats(k); s.Concurrency != 2 {
		t.Errorf("the same limits again dropped the learned concurrency: %+v", s)
	}
	clk.Step(forgetAfter)
	if s := q.Stats(k); s.Concurrency != 3 {
		t.Errorf("10 minutes after the 429: %+v, want the given concurrency of 3 again", s)
	}
	q.Throttled(k, time.Second, true)
	q.SetLimits(k, Limits{Concurrency: 4})
	if s := q.Stats(k); s.Concurrency != 4 {
		t.Errorf("new limits kept the learned concurrency: %+v", s)
	}
}

func TestNamespaceShares(t *testing.T) {
	q, _, k := newTest(t)
	ns := func(r Request, namespace string) Request { r.Name.Namespace = namespace; return r }
	q.SetLimits(k, Limits{NamespaceShares: map[string]int{"a": 1, "b": 2}})
	q.SetLive(k, 1, map[string]int{"a": 1}, t0)
	tests := []struct {
		req      Request
		admitted bool
		message  string
	}{
		{ns(first("a1", 1), "a"), false, "namespace a has 1 live sessions, its share is 1"},
		{ns(first("c1", 2), "c"), false, "namespace c has no share"},
		// Waiters of a full namespace do not hold up the others.
		{ns(first("b1", 3), "b"), true, ""},
		{ns(first("b2", 4), "b"), true, ""},
		{ns(first("b3", 5), "b"), false, "namespace b has 2 live sessions, its share is 2"},
	}
	for _, tt := range tests {
		d := q.Admit(k, tt.req)
		if d.Admitted != tt.admitted || !strings.Contains(d.Message, tt.message) ||
			(!d.Admitted && d.Reason != ReasonConcurrencyLimitReached) {
			t.Errorf("%s: %+v, want admitted %v, %q", tt.req.Name, d, tt.admitted, tt.message)
		}
	}
}

func TestFailedGivesTheSlotBack(t *testing.T) {
	q, clk, k := newTest(t)
	q.SetLimits(k, Limits{CreatesPerMinute: 1})
	clk.Step(settle)
	if !q.Admit(k, first("a", 0)).Admitted {
		t.Fatal("a not admitted")
	}
	if d := q.Admit(k, first("b", 0)); d.Admitted || !d.At.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("b: %+v, want a wait of a minute", d)
	}
	q.Failed(k, "a") // refused (a 4xx): Browserbase did not count it
	if s := q.Stats(k); s.CreatesLastMinute != 0 || s.Live != 0 {
		t.Errorf("stats %+v, want nothing counted", s)
	}
	if d := q.Admit(k, first("b", 0)); !d.Admitted {
		t.Errorf("b: %+v, want admitted in a's slot", d)
	}
}

// A queue that has not seen the minute Browserbase counted (a manager that just started, while its
// predecessor's creates fill the project's window: the Retry-After says the oldest of them left
// less than the queue's age ago) is closed for the Retry-After, and learns nothing.
func TestAYoungQueueDoesNotLearnFromA429(t *testing.T) {
	q, clk, k := newTest(t)
	for i := range 3 {
		clk.Step(100 * time.Millisecond)
		q.Admit(k, first(fmt.Sprint(i), 0))
	}
	q.Throttled(k, 30*time.Second, false)
	if s := q.Stats(k); s.Learned || s.CreatesPerMinute != 0 {
		t.Fatalf("stats %+v: a queue 300 ms old learned a limit", s)
	}
	if d := q.Admit(k, first("next", 0)); d.Admitted || d.Reason != ReasonRateLimited {
		t.Errorf("after the 429: %+v, want closed for its Retry-After", d)
	}
	clk.Step(2 * time.Minute)
	q.Admit(k, first("late", 0))
	q.Throttled(k, time.Second, false)
	if s := q.Stats(k); !s.Learned {
		t.Errorf("stats %+v: a queue two minutes old does learn", s)
	}
}

// A create refused with a 429 goes back to its place, ahead of those declared after it, even
// though everyone arrived in the same second.
func TestARefusedCreateKeepsItsPlace(t *testing.T) {
	q, clk, k := newTest(t)
	aged(q, k)
	q.SetLimits(k, Limits{CreatesPerMinute: 60})
	reqs := []Request{first("a", 0), first("b", 0), first("c", 0)}
	for _, r := range reqs {
		if q.Admit(k, r).Admitted {
			t.Fatalf("%s admitted before the others registered", r.Name.Name)
		}
	}
	clk.Step(settle)
	if d := q.Admit(k, reqs[0]); !d.Admitted {
		t.Fatalf("a not admitted: %+v", d)
	}
	q.Throttled(k, 10*time.Second, false)
	q.Requeue(k, "a")
	clk.Step(11 * time.Second)
	// b asks first, a after: a was declared first and keeps its place.
	if d := q.Admit(k, reqs[1]); d.Admitted {
		t.Fatal("b admitted ahead of a, whose create was refused")
	}
	d := q.Admit(k, reqs[0])
	if !d.Admitted && d.Position == 1 {
		clk.SetTime(d.At) // the spacing of the limit the 429 taught
		d = q.Admit(k, reqs[0])
	}
	if !d.Admitted {
		t.Fatalf("a not admitted at its slot after the Retry-After: %+v", d)
	}
	if s := q.Stats(k); s.CreatesLastMinute != 1 {
		t.Errorf("%d creates counted, want 1: the refused one was taken back", s.CreatesLastMinute)
	}
}

// A new queue whose own creates filled the minute (the Retry-After says the oldest create leaves
// the window in 59 s, so it was made a second ago, after the queue) learns from the 429: a
// project's first burst teaches its limit at once.
func TestAYoungQueueThatSawTheWholeWindowLearns(t *testing.T) {
	q, clk, k := newTest(t)
	q.SetLimits(k, Limits{})
	clk.Step(3 * time.Second)
	for i := range 11 {
		q.Admit(k, first(fmt.Sprint(i), 0))
	}
	q.Throttled(k, 59*time.Second, false)
	if s := q.Stats(k); !s.Learned || s.CreatesPerMinute != 10 {
		t.Errorf("stats %+v, want 10 a minute learned", s)
	}
}
