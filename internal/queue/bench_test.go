package queue

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// BenchmarkAdmit asks for a place in a queue of 1000 waiters, as each of them does about once
// a minute (and the head each slot).
func BenchmarkAdmit(b *testing.B) {
	for _, bc := range []struct {
		name   string
		limits Limits
		setup  func(i int, r *Request)
	}{
		{"fifo", Limits{CreatesPerMinute: 50}, func(int, *Request) {}},
		{"with renewals", Limits{CreatesPerMinute: 50}, func(i int, r *Request) {
			if i%10 == 0 { // a tenth are renewals, some of them urgent
				r.Renewal, r.Deadline = true, t0.Add(time.Duration(i)*time.Second)
			}
		}},
		{"namespace shares", Limits{CreatesPerMinute: 50, Concurrency: 500, NamespaceShares: map[string]int{"ns0": 100, "ns1": 100, "ns2": 100, "ns3": 100}},
			func(i int, r *Request) { r.Name.Namespace = fmt.Sprintf("ns%d", i%4) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q, clk, k := newTest(b)
			q.SetLimits(k, bc.limits)
			reqs := make([]Request, 1000)
			for i := range reqs {
				name := fmt.Sprintf("bs-%04d", i)
				reqs[i] = Request{UID: types.UID(name), Name: types.NamespacedName{Namespace: "ns", Name: name}, Arrival: t0.Add(time.Duration(i) * time.Millisecond)}
				bc.setup(i, &reqs[i])
				q.Admit(k, reqs[i])
			}
			clk.Step(settle) // the head may go; the others wait for their slots
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q.Admit(k, reqs[i%len(reqs)])
				i += 337 // visit the queue out of order
			}
		})
	}
}
