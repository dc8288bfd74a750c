package queue

import (
	"fmt"
	"strings"
	"time"
)

// decide tells a waiter that is not admitted where it stands, why, and when to ask again.
func (q *Queues) decide(qu *queue, v *view, w *waiter, p placement) Decision {
	d := Decision{Position: p.pos, Waiting: len(qu.fifo)}
	closedForConcurrency := v.closed && qu.closedByConcurrency
	onConcurrency := p.nsFull || p.eff >= v.concFree || closedForConcurrency
	var why string
	switch {
	case v.closed && !qu.closedByConcurrency:
		d.Reason = ReasonRateLimited
		why = fmt.Sprintf("Browserbase answered 429, no creates until %s; then %s",
			qu.closedUntil.UTC().Format(time.RFC3339), rateText(v))
	case onConcurrency:
		d.Reason = ReasonConcurrencyLimitReached
		why = concurrencyText(qu, v, w, p)
	default:
		d.Reason = ReasonQueued
		why = rateText(v)
	}
	d.Message = fmt.Sprintf("Position %d of %d in the create queue of %s: %s", d.Position, d.Waiting, keyText(qu.key), why)

	if onConcurrency {
		// Sessions end when their users are done: no time can be promised. Run wakes the head
		// when a list shows room.
		d.RetryAfter = q.jitter(max(concurrencyRetry, qu.closedUntil.Sub(v.now)))
		return d
	}
	d.At = later(qu.slot(v, p.eff), v.now)
	if v.limit > 0 {
		d.At = later(d.At, notBefore(w))
	}
	d.RetryAfter = q.jitter(d.At.Sub(v.now))
	return d
}

func rateText(v *view) string {
	switch {
	case v.limit == 0:
		return "no creation limit known"
	case v.learned:
		return fmt.Sprintf("at most %d creates a minute (learned from a 429)", v.limit)
	default:
		return fmt.Sprintf("at most %d creates a minute (the project's budget)", v.limit)
	}
}

func concurrencyText(qu *queue, v *view, w *waiter, p placement) string {
	var s string
	switch ns := w.Name.Namespace; {
	case p.nsFull:
		share, ok := qu.limits.NamespaceShares[ns]
		if !ok {
			return fmt.Sprintf("namespace %s has no share of the project's sessions", ns)
		}
		s = fmt.Sprintf("namespace %s has %d live sessions, its share is %d", ns, qu.liveIn(ns), share)
	case v.concurrency > 0:
		source := "the project's limit"
		if qu.learnedConcurrency == v.concurrency {
			source = "learned from a 429"
		}
		s = fmt.Sprintf("%d sessions live, at most %d at once (%s)", v.live, v.concurrency, source)
	default:
		s = fmt.Sprintf("%d sessions live", v.live)
	}
	if v.closed && qu.closedByConcurrency {
		s = fmt.Sprintf("Browserbase refused a create at the project's concurrency limit, no creates until %s; %s",
			qu.closedUntil.UTC().Format(time.RFC3339), s)
	}
	return s
}

// keyText names a queue for people: "BrowserbaseProject team-a/main", "the API key with hash ab12".
func keyText(k Key) string {
	s := string(k)
	if hash, ok := strings.CutPrefix(s, "key:"); ok {
		return "the API key with hash " + hash
	}
	if kind, name, ok := strings.Cut(s, "/"); ok {
		return kind + " " + name
	}
	return s
}
