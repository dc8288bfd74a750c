package v1alpha1

// Finalizer, annotations and condition reasons of BrowserContexts. The condition types are the
// shared ones (ConditionReady, ConditionReconciling, ConditionStalled): Ready is True while the
// Browserbase context exists and its id is in the Secret.
const (
	// ContextFinalizer keeps a BrowserContext until its Browserbase context is deleted (or left,
	// with deletionPolicy Orphan). The operator puts it on the context's Secret too, so that the
	// Secret, the only record of the context id, outlives a foreground deletion of its owner
	// until the context is deleted.
	ContextFinalizer = "browserbase.io/context"
	// AnnotationContextCreateAttemptedAt is the time (RFC 3339) of the last create call, written
	// with the finalizer, in one write made with a resourceVersion precondition, before the call.
	// Browserbase contexts carry no metadata and cannot be listed, so a create whose answer is lost
	// cannot be found again: while no Secret holds a context id, this annotation means that a
	// context may have been created and leaked.
	// Cleared once the id is in the Secret and status.idDigest records it: from then on a Secret
	// without the id means the Secret was lost, not the create's answer.
	AnnotationContextCreateAttemptedAt = "browserbase.io/context-create-attempted-at"
	// AnnotationForgetContext, set to the resource's status.idDigest, tells the operator to
	// forget that context when its Secret lost the id (ContextSecretLost) or holds another one
	// (ContextIDMismatch): the id then in the Secret is taken, or, with none, a new, empty
	// context is created. The forgotten context is left in Browserbase. The value names one
	// context, so an annotation left in place (by a GitOps tool) never forgets the next one.
	AnnotationForgetContext = "browserbase.io/forget-context"
	// ContextIDSecretKey is the key of the context id in a BrowserContext's Secret (named by
	// status.secretName). It is a valid environment variable name, so a workload can take it
	// with envFrom; BrowserSessions that name the BrowserContext read it from there.
	ContextIDSecretKey = "contextId"
)

// Condition reasons of BrowserContexts, in addition to the shared ones (CredentialsMissing,
// CredentialsRejected, RequestRejected, RateLimited, BrowserbaseUnavailable, SecretConflict,
// ReconcileError). Provided as a utility, not part of the declarative API.
const (
	// ReasonContextReady: the context exists and its id is in the Secret.
	ReasonContextReady = "ContextReady"
	// ReasonContextCreating: the context is being created.
	ReasonContextCreating = "ContextCreating"
	// ReasonContextNotFound: Browserbase no longer knows the context whose id the Secret holds
	// (deleted outside the operator, or the API key now belongs to another project).
	ReasonContextNotFound = "ContextNotFound"
	// ReasonContextInUse: the resource is being deleted, and waits until no BrowserSession in its
	// namespace refers to it, by name or by its id.
	ReasonContextInUse = "ContextInUse"
	// ReasonContextDeleting: the resource is being deleted and the context with it.
	ReasonContextDeleting = "ContextDeleting"
	// ReasonContextSecretLost: the Secret no longer holds the id of the context the operator
	// created (status.idDigest): it was deleted (its finalizer removed) or its contextId key
	// removed. No new context is made in its place: put the id back, or accept a new context
	// with AnnotationForgetContext.
	ReasonContextSecretLost = "ContextSecretLost"
	// ReasonContextIDMismatch: the Secret holds a context id other than the one the operator
	// created (status.idDigest). The operator neither uses nor deletes it: whoever can edit the
	// Secret could otherwise have it delete another context of the project. Put the id back, or
	// take the Secret's id with AnnotationForgetContext.
	ReasonContextIDMismatch = "ContextIDMismatch"
	// ReasonSecretDeleting: the context's Secret is being deleted while the resource is not. The
	// operator's finalizer keeps it, since it is the only record of the context id.
	ReasonSecretDeleting = "SecretDeleting"
)
