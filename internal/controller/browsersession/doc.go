// Package browsersession holds the BrowserSession reconciler. Reconcile (controller.go) is the
// table of contents: it fetches the resource, defers the one status write, handles deletion,
// and otherwise runs the pass, a list of named steps over one pass struct (pass.go), each in
// the file named after it:
//
//   - ensureSession (session.go): the session the resource has. It is created once
//     (create.go: attempt tokens, the grace period, resolving an unfinished create by adoption
//     or release; request.go: the create body; context.go: the id of a BrowserContext the spec
//     names; gate.go: the CreateGate that spaces creates per API key), read from Browserbase
//     (observe.go), replaced when spec.renewal says so (renewal_policy.go: when, a pure
//     function; renewal_successor.go: making the successor through createOnce), and swept for
//     leaks (sweep.go).
//   - writeSecret (secret.go): the credentials Secret, with digests.go remembering what each
//     Secret holds so unchanged ones cost no read.
//   - restartTargets (restart.go): the workloads spec.renewal.restartTargets names.
//   - releasePredecessor (predecessor.go): the session a renewal replaced, after its overlap.
//   - report (report.go): status from the session, Ready, and when to look again.
//
// Around the pass: release.go is the one path every release of a session takes (logged before
// the call, then the event and the metric, with its reason); delete.go releases the session on
// delete, bounded by its expiry; status.go is the status write's second chance after a
// conflict, for a pass that made a session.
//
// What every kind shares (the status write, the finalizer, events and the clock, per-resource
// memory, stall and wait errors, conditions, classification of Browserbase errors, API-key
// resolution) is in internal/reconcile; the field owner, the Secrets' label and what the cache
// holds are in internal/operator.
package browsersession
