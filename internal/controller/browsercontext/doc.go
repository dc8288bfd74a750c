// Package browsercontext holds the BrowserContext reconciler. Reconcile (controller.go) is the
// table of contents; each step lives in a file named after it, its tests in <file>_test.go (the
// envtest specs in controller_test.go):
//
//   - controller.go: the Reconciler and Reconcile.
//   - secret.go: the Secret that holds the context id (key contextId), the only record of it:
//     the ownership check and its writes.
//   - record.go: what status records of the context (status.idDigest), the checks of the
//     Secret's id against it, the forget-context annotation, and the redaction of the id in
//     everything but the Secret.
//   - create.go: createOnce, creating the context once, and what a lost create answer means.
//   - observe.go: reading the context from Browserbase now and then, copying it into status,
//     and Ready.
//   - delete.go: deleting the context on delete, once no BrowserSession uses it.
//   - watch.go: SetupWithManager: what triggers a reconcile (its predicates, the watch that
//     brings a BrowserContext back when a BrowserSession that uses it, by name or id, changes)
//     and the index of BrowserContexts by id digest.
//
// Outcome machinery shared with other kinds (stall and wait errors, conditions, classification
// of Browserbase errors, API-key resolution, the status patch) is in internal/reconcile; the
// index of BrowserSessions by context name and id in internal/controller/sessionindex.
//
// # The context id
//
// The id of a Browserbase context opens the browser's logged-in state, so it is a credential: it
// is kept in the Secret only, never in status, events, logs or error messages, which show its
// first four characters followed by "…" (status.redactedId). Status also records its SHA-256
// digest (status.idDigest), once the id is in the Secret: ids are random UUIDs, so the digest
// reveals nothing, yet tells whether the Secret still holds the id the operator created.
//
// # A create whose answer is lost
//
// Browserbase contexts carry no metadata and cannot be listed, so a context whose create answer
// is lost (a crash, a timeout, a 5xx after Browserbase committed it) cannot be found again. The
// window is kept small: the attempt is recorded in an annotation (with the finalizer, in one
// write with a resourceVersion precondition) before the call, and the id goes into the Secret
// right after the answer, before anything else. When the annotation is there but no Secret holds
// an id and status records none, the outcome was unknown: the operator says so in a Warning
// event (ContextMayHaveLeaked) and creates another context. The first one, if it was made, is
// leaked; a context costs no browser time and no concurrency slot, only storage. The annotation
// is cleared in the pass after the digest reached status, so at every moment one of the two
// says what happened.
//
// # A Secret that loses the id, or holds another
//
// The Secret's finalizer keeps it while the resource stays, but a person can remove it. A Secret
// without the recorded id never makes a new context in its place: a new one is empty, and the
// BrowserSessions using it would silently lose their logged-in state. The resource stalls
// (ContextSecretLost) instead, keeping status.redactedId and status.idDigest. The ways out:
// re-create the Secret with the id under key contextId (a Secret that no one controls and that
// holds the recorded id is adopted), delete the resource (the context, whose id is gone, is left
// in Browserbase, with a Warning event), or annotate the resource with
// browserbase.io/forget-context set to status.idDigest to start over with a new, empty context.
// The id is kept nowhere else: an annotation or a status field holding it would be readable by
// anyone who can read the resource.
//
// A Secret holding an id other than the recorded one stalls too (ContextIDMismatch): it is
// neither reported Ready (so no BrowserSession loads it) nor ever deleted, since whoever can edit
// the Secret could otherwise have the operator delete another context of the project. A resource
// being deleted stalls the same way, with skip-release as its way out; otherwise
// browserbase.io/forget-context takes the Secret's id instead. Only a writer of the resource's
// status could forge the digest. A resource whose status records no digest (made by an older
// operator) takes the id in its Secret as its own on its next pass.
//
// # Deletion and the BrowserSessions that use the context
//
// With deletionPolicy Delete, the context is deleted once no BrowserSession in the namespace uses
// it: by naming the resource (context.name) or by giving its id (context.id), both found through
// field indexes. Browserbase sessions whose BrowserSession is gone (deleted with deletionPolicy
// Orphan) or that were made outside the cluster are not counted: nothing in the cluster records
// them, and Browserbase cannot list sessions by context. Whoever orphans a session that uses a
// context keeps the context with deletionPolicy Orphan, or skip-release.
package browsercontext
