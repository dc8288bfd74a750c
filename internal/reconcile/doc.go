// Package reconcile is what every kind's reconciler shares, in the way of Flux's
// internal/reconcile:
//
//   - kit.go: Kit (events and the clock, embedded in each Reconciler), FinalizeStatus (the one
//     status write per pass, with a hook for a conflict), EnsureFinalizer and RemoveFinalizer,
//     and the predicates (AnnotationsChangedExcept, IgnoreCreates).
//   - byuid.go: ByUID, per-resource memory between passes, and Memory, which forgets it when the
//     resource is gone however it went (Fetch at the start of a pass, Release at the end of a
//     delete).
//   - errors.go, outcome.go: the step errors that decide the requeue (stall, wait, transient) and
//     how they become conditions and a result.
//   - conditions.go, transitions.go: the condition helpers, and when a change of condition
//     deserves an event.
//   - classify.go: how a Browserbase error is classified; credentials.go: where an API key comes
//     from; patch.go: metadata patches that keep the pass's status for its one status write;
//     ratelimiter.go: the workqueue's jittered backoff.
//
// It works on any Object: a client.Object whose status carries metav1.Conditions.
package reconcile
