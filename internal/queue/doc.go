// Package queue admits Browserbase session creates per project, fairly and within the project's
// limits.
//
// A Browserbase project limits how many sessions may be created a minute and how many may be
// live at once. When a thousand resources want a session together, letting each reconcile try
// and back off on 429s admits them in random order, starves the unlucky, and spends the limit
// on refused calls. Queues instead keeps one queue per project (or per API key for resources
// without a project) and admits creates one slot at a time:
//
//   - Order: by arrival (a resource's creationTimestamp, or the time its renewal became due),
//     ties by first ask. A renewal whose predecessor would expire before the queue reached it
//     goes first, the most urgent first. Under a creation limit a create waits 2 s after its
//     arrival, so that resources created together, whose first reconciles come in any order,
//     have registered before the head is chosen.
//   - Spacing: under a creation limit L, creates go at least 60s/L apart and at most L in any
//     rolling minute, so a backlog drains evenly. With no limit known, everyone who asks goes.
//   - Concurrency: no create while the project's live sessions (or a namespace's, against its
//     share) are at the limit.
//
// The limits come from the project's spec (SetLimits: a budget, a concurrency limit, namespace
// shares), from lists of its live sessions (SetLive), and from Browserbase's 429s (Throttled),
// which close the queue for their Retry-After and teach a creation limit when none was given.
// Waiters learn their place and an estimated admission time for their status, and Start wakes
// the head when its slot comes.
package queue
