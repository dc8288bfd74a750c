package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"

	"github.com/browserbase/session-operator/internal/metrics"
)

func names(ns []types.NamespacedName) string {
	var s []string
	for _, n := range ns {
		s = append(s, n.Name)
	}
	return fmt.Sprint(s)
}

func TestTickWakesTheHead(t *testing.T) {
	q, clk, k := newTest(t)
	q.SetLimits(k, Limits{CreatesPerMinute: 60})
	for _, r := range []Request{first("a", -3), first("b", -2), first("c", -1)} {
		q.Admit(k, r)
	}
	if woken, _ := q.tick(); len(woken) != 0 {
		t.Fatalf("before the first slot: woke %v", names(woken))
	}
	clk.Step(settle)
	if woken, _ := q.tick(); names(woken) != "[a]" {
		t.Fatalf("at the first slot: woke %v, want [a]", names(woken))
	}
	if woken, _ := q.tick(); len(woken) != 0 {
		t.Fatalf("woke %v again before it came back", names(woken))
	}
	// a does not come back: 15 s later b has its turn, and a keeps its place.
	clk.Step(wakeGrace)
	if woken, _ := q.tick(); names(woken) != "[b]" {
		t.Fatalf("a lost its turn: woke %v, want [b]", names(woken))
	}
	if d := q.Admit(k, first("b", -2)); !d.Admitted {
		t.Fatalf("b: %+v, want admitted", d)
	}
	clk.Step(time.Second)
	if d := q.Admit(k, first("a", -3)); !d.Admitted {
		t.Fatalf("a back: %+v, want admitted at its place, ahead of c", d)
	}

	// A waiter that does not ask for 3 minutes is dropped.
	clk.Step(staleAfter)
	q.tick()
	if s := q.Stats(k); s.Waiting != 0 {
		t.Errorf("stats %+v, want c dropped", s)
	}
	// An empty queue untouched for an hour goes, with its series.
	clk.Step(idleAfter)
	q.tick()
	if q.Stats(k) != (Stats{}) || metrics.QueueLength.DeleteLabelValues(string(k)) {
		t.Error("the idle queue or its series is still there")
	}
}

func TestTickWakesWhenALiveListShowsRoom(t *testing.T) {
	q, clk, k := newTest(t)
	q.SetLimits(k, Limits{Concurrency: 2})
	q.SetLive(k, 2, nil, t0)
	for _, n := range []string{"a", "b", "c"} {
		q.Admit(k, first(n, time.Duration(n[0])))
	}
	if woken, _ := q.tick(); len(woken) != 0 {
		t.Fatalf("at the limit: woke %v", names(woken))
	}
	clk.Step(time.Second)
	q.SetLive(k, 0, nil, clk.Now())
	if woken, _ := q.tick(); names(woken) != "[a b]" {
		t.Fatalf("room for two: woke %v, want [a b]", names(woken))
	}
}

func TestStart(t *testing.T) {
	q, clk, k := newTest(t)
	var mu sync.Mutex
	var woken []string
	q.wake = func(n types.NamespacedName) {
		mu.Lock()
		defer mu.Unlock()
		woken = append(woken, n.Name)
	}
	q.SetLimits(k, Limits{CreatesPerMinute: 60})
	q.Admit(k, first("a", 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- q.Start(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		clk.Step(100 * time.Millisecond) // Start sleeps on the fake clock: time only passes here
		mu.Lock()
		got := fmt.Sprint(woken)
		mu.Unlock()
		if got == "[a]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("woken %s, want [a]", got)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start returned %v", err)
	}
}

func TestMetrics(t *testing.T) {
	q, clk, k := newTest(t)
	p := string(k)
	aged(q, k)
	q.SetLimits(k, Limits{CreatesPerMinute: 30, Concurrency: 10})
	q.SetLive(k, 4, nil, t0)
	q.Admit(k, first("a", 0))
	q.Admit(k, renewal("b", 1, 0))
	clk.Step(settle)
	q.Admit(k, first("a", 0))
	clk.Step(2 * time.Second)
	q.Admit(k, renewal("b", 1, 0))
	q.Throttled(k, time.Second, false)
	q.Throttled(k, time.Second, true)
	for name, c := range map[string]struct{ got, want float64 }{
		"length":            {testutil.ToFloat64(metrics.QueueLength.WithLabelValues(p)), 0},
		"live":              {testutil.ToFloat64(metrics.ProjectSessionsLive.WithLabelValues(p)), 6},
		"concurrency":       {testutil.ToFloat64(metrics.ProjectConcurrencyLimit.WithLabelValues(p)), 5},
		"creates a minute":  {testutil.ToFloat64(metrics.ProjectCreatesPerMinute.WithLabelValues(p)), 1},
		"first admitted":    {testutil.ToFloat64(metrics.QueueAdmitted.WithLabelValues(p, "first")), 1},
		"renewals admitted": {testutil.ToFloat64(metrics.QueueAdmitted.WithLabelValues(p, "renewal")), 1},
		"rate 429s":         {testutil.ToFloat64(metrics.APIThrottled.WithLabelValues(p, "rate")), 1},
		"concurrency 429s":  {testutil.ToFloat64(metrics.APIThrottled.WithLabelValues(p, "concurrency")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(metrics.QueueWait, "browserbase_queue_wait_seconds"); n == 0 {
		t.Error("no wait observed")
	}
	q.Remove(k)
	if metrics.QueueLength.DeleteLabelValues(p) || metrics.QueueAdmitted.DeleteLabelValues(p, "first") {
		t.Error("Remove left series behind")
	}
}

// TestConcurrentUse is for -race: every entry point at once.
func TestConcurrentUse(t *testing.T) {
	q, clk, k := newTest(t)
	q.SetLimits(k, Limits{CreatesPerMinute: 600, Concurrency: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				r := first(fmt.Sprintf("g%d-%d", g, i%20), time.Duration(i))
				if d := q.Admit(k, r); d.Admitted && i%7 == 0 {
					q.Failed(k, r.UID)
				}
				switch i % 50 {
				case 0:
					q.SetLive(k, i%30, map[string]int{"ns": i % 30}, clk.Now())
				case 1:
					q.Throttled(k, time.Millisecond, i%100 == 1)
				case 2:
					q.tick()
					q.Stats(k)
				case 3:
					q.Forget(r.UID)
				}
				clk.Step(time.Millisecond)
			}
		}()
	}
	wg.Wait()
}
