// Package reconcile is the outcome machinery every kind's reconciler shares, in the way of
// Flux's internal/reconcile: the step errors that decide a requeue (errors.go), how they become
// conditions and a result (outcome.go), the condition helpers (conditions.go), when a change of
// condition deserves an event (transitions.go), how a Browserbase error is classified
// (classify.go), where an API key comes from (credentials.go), metadata patches that keep the
// pass's status for its one status write (patch.go) and the workqueue's jittered backoff
// (ratelimiter.go).
//
// It works on any Object: a client.Object whose status carries metav1.Conditions.
package reconcile
