// Package browsersession holds the BrowserSession reconciler. Reconcile (controller.go) is the
// table of contents; each step lives in a file named after it:
//
//   - controller.go: the Reconciler, Reconcile, the finalizer, SetupWithManager and its
//     predicates.
//   - create.go: createOnce, the create-exactly-once protocol (attempt tokens, the grace period,
//     resolving an unfinished create by adoption or release).
//   - request.go: the create-session body built from the spec.
//   - context.go: the context id of a BrowserContext the spec names, once it is Ready.
//   - renew.go: spec.renewal: when a successor is due, making it through createOnce, releasing
//     the predecessor after its overlap, one writer per context, restart targets.
//   - gate.go: the CreateGate that spaces creates per API key.
//   - observe.go: reading the session from Browserbase, copying it into status, and Ready from
//     its status (reportSession).
//   - secret.go: the credentials Secret: the name check before a create, and its writes.
//   - digests.go: what the operator remembers of each Secret, so unchanged ones cost no read.
//   - cache.go: what the manager's cache holds (CacheOptions), and the field owner.
//   - sweep.go: leaks (live sessions tagged with the resource that are not its own) found by UID
//     and token and released.
//   - delete.go: releasing the session on delete, bounded by its expiry.
//   - status.go: the one status patch per pass (finalizeStatus), and its events.
//
// Outcome machinery shared with other kinds (stall and wait errors, conditions, classification
// of Browserbase errors, API-key resolution) is in internal/reconcile.
package browsersession
