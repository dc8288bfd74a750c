package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types. They follow kstatus, so kubectl wait, Flux and Argo CD read them without a
// custom health check: Ready is the summary, Reconciling and Stalled are "abnormal-true".
const (
	// ConditionReady is True while the session is RUNNING and its Secret is written.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator works towards Ready (creating, waiting for
	// the session to start, backing off a transient error or a rate limit).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operator cannot make progress without a change from a
	// human: missing or rejected credentials, a request Browserbase refuses, a Secret name taken,
	// or a session that has ended.
	ConditionStalled = "Stalled"
	// ConditionBudgetsValid, on a project, is False when a budget is above the plan's limit.
	ConditionBudgetsValid = "BudgetsValid"
)

// Condition reasons. They are provided as a utility and are not part of the declarative API:
// match on condition types and status, and read reasons as documentation.
const (
	// ReasonReconciling: the operator has seen the resource and started working on it.
	ReasonReconciling = "Reconciling"
	// ReasonSessionPending: Browserbase accepted the session but the browser is not running yet.
	ReasonSessionPending = "SessionPending"
	// ReasonSessionRunning: the session is running and its Secret is written.
	ReasonSessionRunning = "SessionRunning"
	// ReasonSessionStatusUnknown: Browserbase reports a status this operator does not know.
	ReasonSessionStatusUnknown = "SessionStatusUnknown"
	// ReasonSessionCompleted: the session was released or its client disconnected.
	ReasonSessionCompleted = "SessionCompleted"
	// ReasonSessionTimedOut: the session reached its timeout.
	ReasonSessionTimedOut = "SessionTimedOut"
	// ReasonSessionErrored: Browserbase ended the session with an error.
	ReasonSessionErrored = "SessionErrored"
	// ReasonSessionNotFound: Browserbase no longer knows the session id recorded on the resource.
	ReasonSessionNotFound = "SessionNotFound"
	// ReasonCredentialsMissing: no API key could be read; the message names what to create.
	ReasonCredentialsMissing = "CredentialsMissing"
	// ReasonCredentialsRejected: Browserbase answered 401 to the API key.
	ReasonCredentialsRejected = "CredentialsRejected"
	// ReasonRequestRejected: Browserbase refused the request (4xx other than 401 and 429), for
	// example a plan that does not include a feature the spec asks for.
	ReasonRequestRejected = "RequestRejected"
	// ReasonInvalidSpec: the spec passed admission but cannot be sent, for example userMetadata
	// over Browserbase's size limit or a proxy password Secret that is missing.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonRateLimited: creates are being spaced under the project's creation-rate limit, or
	// Browserbase answered 429 to one; the operator waits as long as Browserbase asks.
	ReasonRateLimited = "RateLimited"
	// ReasonConcurrencyLimitReached: the project is at its concurrent-session limit; the
	// operator tries again once Browserbase's Retry-After has passed, spaced across resources.
	ReasonConcurrencyLimitReached = "ConcurrencyLimitReached"
	// ReasonCreateOutcomeUnknown: a create may have succeeded without the operator learning the
	// session id (a crash, a timeout, a 5xx); the operator looks the session up by its create
	// attempt token before it creates again.
	ReasonCreateOutcomeUnknown = "CreateOutcomeUnknown"
	// ReasonBrowserbaseUnavailable: a transient failure talking to Browserbase; retried with backoff.
	ReasonBrowserbaseUnavailable = "BrowserbaseUnavailable"
	// ReasonSecretConflict: a Secret with the target name exists and is not owned by this resource.
	ReasonSecretConflict = "SecretConflict"
	// ReasonConnectDetailsUnavailable: the session exists but its connect URL and signing key can
	// no longer be obtained (they are only guaranteed in the create answer).
	ReasonConnectDetailsUnavailable = "ConnectDetailsUnavailable"
	// ReasonReleasing: the resource is being deleted and the session released.
	ReasonReleasing = "Releasing"
	// ReasonReconcileError: a transient Kubernetes error; retried with backoff.
	ReasonReconcileError = "ReconcileError"
	// ReasonRenewing: the session is being replaced under spec.renewal (it ended, or a context
	// it persists into is being saved before its successor is created).
	ReasonRenewing = "Renewing"
	// ReasonQueued: the create waits its turn in the project's queue (status.queuePosition,
	// status.queueEstimate); creates are admitted in order of arrival within the project's limits.
	ReasonQueued = "Queued"
	// ReasonProjectNotFound: spec.projectRef names a project object that does not exist.
	ReasonProjectNotFound = "ProjectNotFound"
	// ReasonProjectNotReady: the project named by spec.projectRef is not Ready (its message says why).
	ReasonProjectNotReady = "ProjectNotReady"
	// ReasonNamespaceNotAllowed: a ClusterBrowserbaseProject's namespaceShares leave out the
	// resource's namespace.
	ReasonNamespaceNotAllowed = "NamespaceNotAllowed"
	// ReasonProjectReady: a project's key is readable and accepted.
	ReasonProjectReady = "ProjectReady"
	// ReasonProjectChanged: a project's key now belongs to another Browserbase project while its
	// BrowserSessions have sessions in the old one.
	ReasonProjectChanged = "ProjectChanged"
	// ReasonProjectInUse: a project being deleted waits while BrowserSessions name it.
	ReasonProjectInUse = "ProjectInUse"
	// ReasonBudgetAbovePlan: a project budget is above the plan's limit, which applies instead.
	ReasonBudgetAbovePlan = "BudgetAbovePlan"
	// ReasonBudgetsWithinPlan: the project's budgets are within the plan's limits.
	ReasonBudgetsWithinPlan = "BudgetsWithinPlan"
	// ReasonContextNotReady: the BrowserContext named in spec.browserSettings.context is missing
	// or not Ready; the session is created once it is.
	ReasonContextNotReady = "ContextNotReady"
)

// Annotations and finalizer the operator puts on BrowserSessions.
const (
	// Finalizer keeps a BrowserSession until its Browserbase session is released.
	Finalizer = "browserbase.io/session"
	// AnnotationCreateAttempt holds a token, random per create attempt, that the operator writes
	// (with the finalizer, in one write made with a resourceVersion precondition) before it calls
	// create, and sends in the session's userMetadata (k8s.attempt). It is never removed after a
	// success, so that it costs no write: while status has no session id, it means a session may
	// exist that the operator has not recorded (a crash or a lost answer after the create, or a
	// restore from a backup without status), and that session is looked up by the token before
	// any new create. The token survives a restore, unlike the UID.
	AnnotationCreateAttempt = "browserbase.io/create-attempt"
	// AnnotationCreateAttemptedAt is the time of the create attempt in AnnotationCreateAttempt
	// (RFC 3339): the session list is trusted only a grace period after it, and a session made
	// then has surely ended six hours later.
	AnnotationCreateAttemptedAt = "browserbase.io/create-attempted-at"
	// AnnotationSkipRelease, set to "true", lets a BrowserSession being deleted go without
	// releasing its session (which then runs until its timeout): the way out when the session
	// cannot be released, for example because the API key is gone.
	AnnotationSkipRelease = "browserbase.io/skip-release"
	// AnnotationCreateRenews is written with AnnotationCreateAttempt when the attempt makes the
	// successor of a session (spec.renewal): it holds the predecessor's id. While status.id still
	// names that predecessor, the successor's create is unfinished, and is resolved by its token
	// like any other.
	AnnotationCreateRenews = "browserbase.io/create-renews"
	// AnnotationSessionRevision is status.revision, on the credentials Secret and on the pod
	// templates of spec.renewal.restartTargets: a change of it means a new session.
	AnnotationSessionRevision = "browserbase.io/session-revision"
	// AnnotationRestartOnRenewal, on a Deployment or StatefulSet, names the BrowserSessions (a
	// comma-separated list of names in the workload's namespace) that may restart it through
	// spec.renewal.restartTargets. A workload without it, or that names other BrowserSessions, is
	// not restarted: whoever may create a BrowserSession must not be able to roll any workload
	// of the namespace.
	AnnotationRestartOnRenewal = "browserbase.io/restart-on-renewal"
)

// GetConditions returns the conditions of the resource, for the shared reconcile machinery.
func (in *BrowserSession) GetConditions() *[]metav1.Condition { return &in.Status.Conditions }

// SetObservedGeneration records the generation the status was computed from.
func (in *BrowserSession) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
