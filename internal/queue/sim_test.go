package queue

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// sim plays a controller's reconciles against the queue and a fake Browserbase that refuses
// (429) any create beyond its limit in a rolling minute. Each resource reconciles at its
// RetryAfter or, 50 ms after Start's tick wakes it, whichever comes first (as a workqueue
// merges requeues), and creates when admitted. Time is a fake clock: an hour takes a second.
type sim struct {
	t       *testing.T
	q       *Queues
	k       Key
	rnd     *rand.Rand
	reqs    map[string]Request
	next    map[string]time.Time // each waiting resource's next reconcile
	server  int                  // Browserbase's creation limit
	created []time.Time          // Browserbase's successful creates
	now     time.Time

	admitted  []admittedAt
	throttled int // 429s answered
}

type admittedAt struct {
	Request
	at time.Time
}

func newSim(t *testing.T, server int, limits Limits) *sim {
	q, clk, k := newTest(t)
	q.SetLimits(k, limits)
	s := &sim{t: t, q: q, k: k, rnd: rand.New(rand.NewPCG(3, 4)), reqs: map[string]Request{}, next: map[string]time.Time{}, server: server, now: clk.Now()}
	q.clock = simClock{s} // the sim keeps its own time, without a fake clock's locks
	return s
}

type simClock struct{ s *sim }

func (c simClock) Now() time.Time                  { return c.s.now }
func (c simClock) Since(t time.Time) time.Duration { return c.s.now.Sub(t) }

// add makes r first reconcile at `at`.
func (s *sim) add(r Request, at time.Time) {
	s.reqs[r.Name.Name] = r
	s.schedule(r.Name.Name, at)
}

func (s *sim) schedule(name string, at time.Time) {
	if cur, ok := s.next[name]; !ok || at.Before(cur) {
		s.next[name] = at
	}
}

// create is Browserbase: a create beyond its limit in the last minute gets a 429, with a
// Retry-After in whole seconds until the oldest create of the minute leaves it.
func (s *sim) create(now time.Time) (retryAfter time.Duration, ok bool) {
	recent := s.created[:0:0]
	for _, c := range s.created {
		if c.After(now.Add(-time.Minute)) {
			recent = append(recent, c)
		}
	}
	if len(recent) >= s.server {
		wait := recent[0].Add(time.Minute).Sub(now)
		return (wait + time.Second - 1).Truncate(time.Second), false
	}
	s.created = append(s.created, now)
	return 0, true
}

func (s *sim) reconcile(name string) {
	delete(s.next, name)
	r := s.reqs[name]
	d := s.q.Admit(s.k, r)
	if !d.Admitted {
		if d.RetryAfter < time.Second || d.RetryAfter > time.Minute {
			s.t.Fatalf("%s told to come back in %v", name, d.RetryAfter)
		}
		s.schedule(name, s.now.Add(d.RetryAfter))
		return
	}
	if retryAfter, ok := s.create(s.now); !ok {
		s.throttled++
		s.q.Throttled(s.k, retryAfter, false)
		s.q.Failed(s.k, r.UID)
		s.schedule(name, s.now.Add(retryAfter))
		return
	}
	s.admitted = append(s.admitted, admittedAt{r, s.now})
}

// run plays until every resource has its session, or for `limit` of simulated time.
func (s *sim) run(limit time.Duration) {
	end := s.now.Add(limit)
	nextTick := s.now
	for len(s.next) > 0 && s.now.Before(end) {
		at := nextTick
		for _, t := range s.next {
			if t.Before(at) {
				at = t
			}
		}
		s.now = at
		if !at.Before(nextTick) {
			woken, wait := s.q.tick()
			for _, n := range woken {
				s.schedule(n.Name, at.Add(50*time.Millisecond))
			}
			nextTick = at.Add(wait)
		}
		var due []string
		for n, t := range s.next {
			if !t.After(at) {
				due = append(due, n)
			}
		}
		slices.Sort(due)
		s.rnd.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
		for _, n := range due {
			s.reconcile(n)
		}
	}
	if len(s.next) > 0 {
		s.t.Fatalf("after %v, %d resources still wait", limit, len(s.next))
	}
}

// maxInAMinute is the most admissions in any rolling minute.
func (s *sim) maxInAMinute() int {
	most, j := 0, 0
	for i, a := range s.admitted {
		for !s.admitted[j].at.After(a.at.Add(-time.Minute)) {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// thousand adds 1000 first sessions created a millisecond apart from t0, each first reconciled
// within a second of its creation, in random order.
func (s *sim) thousand() {
	for i := range 1000 {
		name := fmt.Sprintf("bs-%04d", i)
		arrival := t0.Add(time.Duration(i) * time.Millisecond)
		s.add(Request{UID: types.UID(name), Name: types.NamespacedName{Namespace: "ns", Name: name}, Arrival: arrival},
			arrival.Add(time.Duration(s.rnd.Int64N(int64(time.Second)))))
	}
}

func TestSimulationKnownLimit(t *testing.T) {
	s := newSim(t, 50, Limits{CreatesPerMinute: 50})
	s.thousand()
	s.run(time.Hour)
	if len(s.admitted) != 1000 || s.throttled != 0 {
		t.Fatalf("%d admitted, %d 429s; want 1000 and none", len(s.admitted), s.throttled)
	}
	for i := 1; i < len(s.admitted); i++ {
		if a, b := s.admitted[i-1], s.admitted[i]; !a.Arrival.Before(b.Arrival) {
			t.Errorf("%s (arrived %v) admitted after %s (arrived %v)", b.Name.Name, b.Arrival, a.Name.Name, a.Arrival)
		}
	}
	if most := s.maxInAMinute(); most > 50 {
		t.Errorf("%d admitted in one minute, want at most 50", most)
	}
	// Evenly: 1.2 s apart, on a schedule that a head's late return moves by at most half that.
	for i := 1; i < len(s.admitted); i++ {
		if gap := s.admitted[i].at.Sub(s.admitted[i-1].at); gap < 600*time.Millisecond {
			t.Errorf("%s admitted %v after the one before", s.admitted[i].Name.Name, gap)
		}
	}
	// 1000 at 50 a minute: 20 minutes.
	if took := s.admitted[999].at.Sub(t0); took > 20*time.Minute+30*time.Second {
		t.Errorf("took %v, want about 20 minutes", took)
	}
	t.Logf("1000 admitted in %v", s.admitted[999].at.Sub(t0))
}

func TestSimulationLearnedLimit(t *testing.T) {
	s := newSim(t, 25, Limits{})
	s.thousand()
	s.run(2 * time.Hour)
	took := s.admitted[len(s.admitted)-1].at.Sub(t0)
	minutes := int(took/time.Minute) + 1
	t.Logf("1000 admitted in %v with %d 429s", took, s.throttled)
	if len(s.admitted) != 1000 {
		t.Fatalf("%d admitted, want 1000", len(s.admitted))
	}
	// The first 429 teaches the limit; after that, one probe at most every 10 minutes.
	if s.throttled > minutes+1 {
		t.Errorf("%d 429s in %d minutes, want at most one a minute after the first", s.throttled, minutes)
	}
	if s.throttled > minutes/10+2 {
		t.Errorf("%d 429s in %d minutes, want one at first and at most one per 10 minutes", s.throttled, minutes)
	}
	// 1000 at 25 a minute: 40 minutes.
	if took > 42*time.Minute {
		t.Errorf("took %v, want about 40 minutes", took)
	}
}

func TestSimulationUrgentRenewal(t *testing.T) {
	s := newSim(t, 50, Limits{CreatesPerMinute: 50})
	for i := range 100 {
		name := fmt.Sprintf("bs-%03d", i)
		arrival := t0.Add(time.Duration(i) * time.Millisecond)
		s.add(Request{UID: types.UID(name), Name: types.NamespacedName{Namespace: "ns", Name: name}, Arrival: arrival},
			arrival.Add(time.Duration(s.rnd.Int64N(int64(time.Second)))))
	}
	// Its predecessor expires a minute from now; at its place it would wait two minutes.
	due := t0.Add(10 * time.Second)
	r := Request{UID: "renewal", Name: types.NamespacedName{Namespace: "ns", Name: "renewal"}, Arrival: due, Renewal: true, Deadline: due.Add(time.Minute)}
	s.add(r, due)
	s.run(time.Hour)
	if s.throttled != 0 || s.maxInAMinute() > 50 {
		t.Errorf("%d 429s, %d in a minute", s.throttled, s.maxInAMinute())
	}
	for i, a := range s.admitted {
		if a.UID == r.UID {
			t.Logf("renewal admitted %d-th at %v, %v before its deadline", i+1, a.at.Sub(t0), r.Deadline.Sub(a.at))
			if !a.at.Before(r.Deadline) {
				t.Errorf("renewal admitted at %v, after its deadline %v", a.at, r.Deadline)
			}
			return
		}
	}
	t.Error("renewal never admitted")
}
