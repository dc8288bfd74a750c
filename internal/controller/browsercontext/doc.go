// Package browsercontext holds the BrowserContext reconciler. Reconcile (controller.go) is the
// table of contents; each step lives in a file named after it:
//
//   - controller.go: the Reconciler, Reconcile, the finalizer, SetupWithManager and its
//     predicates.
//   - secret.go: the Secret that holds the context id (key contextId), the only record of it:
//     the ownership check and its writes.
//   - create.go: createOnce, creating the context once, and what a lost create answer means.
//   - observe.go: reading the context from Browserbase now and then, copying it into status,
//     and Ready; the redaction of the id in everything but the Secret.
//   - delete.go: deleting the context on delete, once no BrowserSession refers to it.
//   - index.go: the watch that brings a BrowserContext back when a BrowserSession naming it
//     changes. The field index of BrowserSessions by the BrowserContext they name, which
//     delete.go lists, is internal/controller/sessionindex, shared with the BrowserSession
//     controller.
//   - status.go: the one status patch per pass (finalizeStatus), and its events.
//
// Outcome machinery shared with other kinds (stall and wait errors, conditions, classification
// of Browserbase errors, API-key resolution) is in internal/reconcile.
//
// # The context id
//
// The id of a Browserbase context opens the browser's logged-in state, so it is a credential: it
// is kept in the Secret only, never in status, events, logs or error messages, which show its
// first four characters followed by "…" (status.redactedId).
//
// # A create whose answer is lost
//
// Browserbase contexts carry no metadata and cannot be listed, so a context whose create answer
// is lost (a crash, a timeout, a 5xx after Browserbase committed it) cannot be found again. The
// window is kept small: the attempt is recorded in an annotation (with the finalizer, in one
// write with a resourceVersion precondition) before the call, and the id goes into the Secret
// right after the answer, before anything else. When the annotation is there but no Secret holds
// an id, the outcome was unknown: the operator says so in a Warning event (ContextMayHaveLeaked)
// and creates another context. The first one, if it was made, is leaked; a context costs no
// browser time and no concurrency slot, only storage.
package browsercontext
