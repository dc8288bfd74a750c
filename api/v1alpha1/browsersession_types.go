package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Region is a Browserbase region, where the browser runs.
// +kubebuilder:validation:Enum=us-west-2;us-east-1;eu-central-1;ap-southeast-1
type Region string

// DeletionPolicy says what happens to the Browserbase session when its BrowserSession is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete releases the Browserbase session when the resource is deleted.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the Browserbase session running until it ends on its own.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// OperatingSystem is the operating system a stealth-mode browser presents.
// +kubebuilder:validation:Enum=windows;mac;linux;mobile;tablet
type OperatingSystem string

// ProxyType selects how a proxy entry routes traffic.
// +kubebuilder:validation:Enum=browserbase;external;none
type ProxyType string

const (
	// ProxyTypeBrowserbase routes through Browserbase's own proxies.
	ProxyTypeBrowserbase ProxyType = "browserbase"
	// ProxyTypeExternal routes through a proxy server of the user's.
	ProxyTypeExternal ProxyType = "external"
	// ProxyTypeNone bypasses proxying for the matching domains.
	ProxyTypeNone ProxyType = "none"
)

// ReservedMetadataKey is the userMetadata key the operator fills with this resource's identity
// (UID, namespace, name) and its create attempt's token, so that the session can always be
// traced back to its resource and found again by the operator.
const ReservedMetadataKey = "k8s"

// MaxUserMetadataLength is Browserbase's limit: the JSON text of userMetadata must be shorter.
const MaxUserMetadataLength = 512

// BrowserSessionSpec describes the Browserbase session to create. It maps one to one onto the body
// of Browserbase's create-session call. A session cannot be changed once created, so the spec is
// immutable: delete the resource and create a new one to get a different session.
// +kubebuilder:validation:XValidation:rule="!has(self.renewal) || !has(self.renewal.renewBefore) || !has(self.timeout) || duration(self.renewal.renewBefore).getSeconds() + 20 <= self.timeout",message="renewal.renewBefore must leave the session at least 20s of use: make it at most timeout minus 20s, or raise timeout"
// +kubebuilder:validation:XValidation:rule="!has(self.apiKeySecretRef) || !has(self.projectRef)",message="set at most one of apiKeySecretRef and projectRef: a project object already names its API key"
type BrowserSessionSpec struct {
	// projectId is the Browserbase project to create the session in. When empty, Browserbase
	// infers the project from the API key.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	ProjectID string `json:"projectId,omitempty"`

	// region is where the browser runs: us-west-2, us-east-1, eu-central-1 or ap-southeast-1.
	// When empty, Browserbase picks its default (us-west-2).
	// +optional
	Region Region `json:"region,omitempty"`

	// timeout is the session's lifetime in seconds, from 60 to 21600 (6 hours). When empty, the
	// project's default timeout applies. The session ends (TIMED_OUT) when it elapses.
	// +optional
	// +kubebuilder:validation:Minimum=60
	// +kubebuilder:validation:Maximum=21600
	Timeout *int32 `json:"timeout,omitempty"`

	// keepAlive keeps the session running when its client disconnects, so a restarted workload can
	// reconnect with the same connectUrl. Browserbase offers it on paid plans only.
	// +optional
	KeepAlive *bool `json:"keepAlive,omitempty"`

	// metadata is sent to Browserbase as the session's userMetadata, and can be searched there.
	// The key "k8s" is reserved: the operator adds it to record this resource's UID, namespace,
	// name and create attempt. The whole userMetadata, as JSON and with that entry, must stay under 512 characters.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="!('k8s' in self)",message="metadata key 'k8s' is reserved for the operator's tag of this resource; use another key"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) > 0 && size(k) <= 64)",message="metadata keys must be 1 to 64 characters long"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 256)",message="metadata values must be at most 256 characters long"
	Metadata map[string]string `json:"metadata,omitempty"`

	// extensionId is the id of a browser extension uploaded to Browserbase, loaded into the session.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	ExtensionID string `json:"extensionId,omitempty"`

	// browserSettings configures the browser itself.
	// +optional
	BrowserSettings *BrowserSettings `json:"browserSettings,omitempty"`

	// proxies routes the browser's traffic. Entries are matched in order by domainPattern; an entry
	// without domainPattern matches every domain.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Proxies []Proxy `json:"proxies,omitempty"`

	// apiKeySecretRef names a Secret in this namespace that holds the Browserbase API key. When
	// empty, the project's key is used (projectRef, else the default ClusterBrowserbaseProject),
	// else the operator's default key (its BROWSERBASE_API_KEY environment variable).
	// Not allowed with projectRef.
	// +optional
	APIKeySecretRef *APIKeySecretReference `json:"apiKeySecretRef,omitempty"`

	// projectRef names the BrowserbaseProject (in this namespace) or ClusterBrowserbaseProject
	// whose API key, session defaults and limits this session uses; its creates wait their turn
	// in the project's queue. When empty (and apiKeySecretRef too), the ClusterBrowserbaseProject
	// annotated browserbase.io/default-project: "true" applies, else the operator's default key.
	// +optional
	ProjectRef *ProjectReference `json:"projectRef,omitempty"`

	// secretName is the Secret the operator writes the session's credentials into (sessionId,
	// connectUrl, seleniumRemoteUrl, signingKey, expiresAt). Defaults to "<metadata.name>-browserbase".
	// A Secret of that name that this BrowserSession does not own is never overwritten.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// deletionPolicy says what happens to the Browserbase session when this resource is deleted:
	// Delete (the default) releases it, Orphan leaves it running until it times out. Unlike the
	// rest of the spec it can be changed at any time, for example to Orphan just before a delete.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// renewal replaces the session when it ends or before it expires, so that this resource keeps
	// a usable session for as long as it exists. The successor's credentials go into the same
	// Secret. Unlike the rest of the spec it can be changed at any time. When empty, a session
	// that ends is not replaced.
	// +optional
	Renewal *Renewal `json:"renewal,omitempty"`
}

// RenewalPolicy says when a BrowserSession's session is replaced by a new one.
// +kubebuilder:validation:Enum=Never;OnEnd;BeforeExpiry
type RenewalPolicy string

const (
	// RenewalNever keeps one session: once it ends, the resource reports it ended (Stalled).
	RenewalNever RenewalPolicy = "Never"
	// RenewalOnEnd replaces a session that ended (timed out, completed or errored).
	RenewalOnEnd RenewalPolicy = "OnEnd"
	// RenewalBeforeExpiry creates the successor renewBefore ahead of the session's expiry,
	// writes it into the Secret, and releases the predecessor after overlap. A session that
	// ends early is replaced too.
	RenewalBeforeExpiry RenewalPolicy = "BeforeExpiry"
)

// Renewal says when the session is replaced, and who is told.
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || self.policy == 'BeforeExpiry'",message="renewBefore only applies to policy BeforeExpiry"
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || duration(self.renewBefore) >= duration('10s')",message="renewBefore must be at least 10s"
// +kubebuilder:validation:XValidation:rule="!has(self.overlap) || duration(self.overlap) <= duration('1h')",message="overlap must be at most 1h"
type Renewal struct {
	// policy is Never (the default: an ended session stays ended), OnEnd (replace a session that
	// ended) or BeforeExpiry (replace it renewBefore ahead of its expiry, and when it ends early).
	// +optional
	// +kubebuilder:default=Never
	Policy RenewalPolicy `json:"policy,omitempty"`

	// renewBefore is how long before the session's expiry its successor is created, for
	// example 10m; at least 10s. It must leave the session at least 20s of use: with timeout
	// 3600, renewBefore must be at most 59m40s. Defaults to a third of the session's lifetime,
	// which is also used (with a warning event) when the project's default timeout is shorter
	// than renewBefore plus 20s. The operator starts a renewal earlier when renewBefore leaves
	// too little time to survive one interrupted create (two create grace periods and a margin,
	// 65s by default; a RenewalAtRisk event when the session is too short even for that), and
	// spreads renewals by up to 2m (a tenth of renewBefore) later, fixed per session.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:MaxLength=32
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// overlap is how long the predecessor keeps running after its successor's credentials are in
	// the Secret (and, with restartTargets, after their rollout started), so that connected
	// workloads can reconnect. Defaults to 2m, longer than the kubelet's sync of Secret volumes;
	// at most 1h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:MaxLength=32
	Overlap *metav1.Duration `json:"overlap,omitempty"`

	// restartTargets are workloads in this namespace that read the Secret through environment
	// variables, and so must restart to see a new session: each new session (revision) sets the
	// annotation browserbase.io/session-revision on their pod template, once. Workloads that
	// mount the Secret as a volume see the new values without a restart.
	// Each workload must opt in with the annotation browserbase.io/restart-on-renewal naming this
	// BrowserSession (a comma-separated list of names); others are refused with a Warning event.
	// The operator needs get and patch on Deployments and StatefulSets, which the default install
	// does not grant: enable restartTargets.enabled in the Helm chart, or the kustomize component
	// config/components/restart-targets.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	RestartTargets []RestartTarget `json:"restartTargets,omitempty"`
}

// RestartTarget is a workload restarted when the session is renewed.
type RestartTarget struct {
	// kind is Deployment or StatefulSet.
	// +required
	// +kubebuilder:validation:Enum=Deployment;StatefulSet
	Kind string `json:"kind"`

	// name of the workload, in this BrowserSession's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// BrowserSettings configures the browser of a session.
type BrowserSettings struct {
	// context loads (and optionally saves) a persisted browser context: cookies, storage, cache.
	// Name a BrowserContext in this namespace (the session waits until it is Ready), or give a
	// Browserbase context id made elsewhere.
	// +optional
	Context *ContextReference `json:"context,omitempty"`

	// viewport sets the browser window size in pixels.
	// +optional
	Viewport *Viewport `json:"viewport,omitempty"`

	// blockAds blocks advertisements. Browserbase's default is false.
	// +optional
	BlockAds *bool `json:"blockAds,omitempty"`

	// solveCaptchas solves captchas automatically. Browserbase's default is true.
	// +optional
	SolveCaptchas *bool `json:"solveCaptchas,omitempty"`

	// recordSession records the session for replay. Browserbase's default is true.
	// +optional
	RecordSession *bool `json:"recordSession,omitempty"`

	// logSession keeps the session's logs. Browserbase's default is true.
	// +optional
	LogSession *bool `json:"logSession,omitempty"`

	// advancedStealth turns on Browserbase's Advanced Stealth mode.
	// +optional
	AdvancedStealth *bool `json:"advancedStealth,omitempty"`

	// os is the operating system the browser presents in stealth mode: windows, mac, linux,
	// mobile or tablet.
	// +optional
	OS OperatingSystem `json:"os,omitempty"`

	// allowedDomains restricts main-frame navigation to these domains and their subdomains.
	// Empty means no restriction.
	// +optional
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	AllowedDomains []string `json:"allowedDomains,omitempty"`

	// ignoreCertificateErrors makes the browser accept invalid TLS certificates. Browserbase's
	// default is true.
	// +optional
	IgnoreCertificateErrors *bool `json:"ignoreCertificateErrors,omitempty"`
}

// ContextReference refers to a Browserbase context: a BrowserContext resource by name, or a
// context id made outside the cluster.
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.id)",message="set exactly one of context.name (a BrowserContext in this namespace) and context.id (a Browserbase context id)"
type ContextReference struct {
	// name of a BrowserContext in this namespace. The session is created once it is Ready, with
	// the context id from its Secret.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// id is a Browserbase context id made outside this cluster.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	ID string `json:"id,omitempty"`

	// persist saves the browser's state back into the context when the session ends. Only one
	// session persists into a context at a time: a renewal releases the predecessor, and waits a
	// few seconds for its state to be saved, before the successor is created.
	// +optional
	Persist *bool `json:"persist,omitempty"`
}

// Viewport is a browser window size.
type Viewport struct {
	// width in pixels.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Width *int32 `json:"width,omitempty"`

	// height in pixels.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Height *int32 `json:"height,omitempty"`
}

// Proxy is one proxy rule of a session.
// +kubebuilder:validation:XValidation:rule="self.type != 'external' || has(self.server)",message="server is required when type is external"
// +kubebuilder:validation:XValidation:rule="self.type == 'external' || (!has(self.server) && !has(self.username) && !has(self.passwordSecretRef))",message="server, username and passwordSecretRef are only allowed when type is external"
// +kubebuilder:validation:XValidation:rule="self.type == 'browserbase' || !has(self.geolocation)",message="geolocation is only allowed when type is browserbase"
type Proxy struct {
	// type is browserbase (Browserbase's proxies), external (a proxy server of yours) or none
	// (no proxy for the matching domains).
	// +required
	Type ProxyType `json:"type"`

	// geolocation picks where a browserbase proxy exits. Only for type browserbase.
	// +optional
	Geolocation *ProxyGeolocation `json:"geolocation,omitempty"`

	// server is the external proxy's URL, for example http://proxy.example.com:8080. Only for type
	// external, where it is required.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Server string `json:"server,omitempty"`

	// username for the external proxy.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Username string `json:"username,omitempty"`

	// passwordSecretRef names a Secret key in this namespace that holds the external proxy's
	// password. Passwords are never written inline.
	// +optional
	PasswordSecretRef *SecretKeySelector `json:"passwordSecretRef,omitempty"`

	// domainPattern limits this rule to matching domains. Empty matches every domain.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	DomainPattern string `json:"domainPattern,omitempty"`
}

// ProxyGeolocation is where a Browserbase proxy exits.
type ProxyGeolocation struct {
	// country is an ISO 3166-1 alpha-2 code, for example US.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
	Country string `json:"country"`

	// state is a two-letter US state code, for example NY. Only for country US.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
	State string `json:"state,omitempty"`

	// city is a city name, for example New York.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	City string `json:"city,omitempty"`
}

// APIKeySecretReference names the key of a Secret, in the resource's namespace, that holds a
// Browserbase API key.
type APIKeySecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret. Defaults to apiKey.
	// +optional
	// +kubebuilder:default=apiKey
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// SecretKeySelector names the key of a Secret in the resource's namespace.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret.
	// +required
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// BrowserSessionStatus is what the operator last observed of the session. It never holds a
// credential: the full connectUrl and the signing key are in the Secret named by secretName.
type BrowserSessionStatus struct {
	// observedGeneration is the metadata.generation this status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is True while the session is RUNNING and its Secret is written;
	// Reconciling is True while the operator works towards that; Stalled is True when it cannot
	// get there without a change from you (the message says what).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// id is the Browserbase session id.
	// +optional
	ID string `json:"id,omitempty"`

	// status is the session's status as Browserbase reports it, verbatim: PENDING, RUNNING,
	// ERROR, TIMED_OUT, COMPLETED, or a value Browserbase adds later.
	// +optional
	SessionStatus string `json:"status,omitempty"`

	// connectUrl is the session's connect URL with every credential removed. The usable URL is in
	// the Secret's connectUrl key.
	// +optional
	ConnectURL string `json:"connectUrl,omitempty"`

	// expiresAt is when the session times out.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// startedAt is when the session started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// endedAt is when the session ended, once it has.
	// +optional
	EndedAt *metav1.Time `json:"endedAt,omitempty"`

	// region is where the session runs.
	// +optional
	Region string `json:"region,omitempty"`

	// projectId is the Browserbase project the session belongs to.
	// +optional
	ProjectID string `json:"projectId,omitempty"`

	// secretName is the Secret that holds the session's credentials.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// revision counts the sessions this resource has had: 1 for its first, one more for each
	// renewal. The Secret carries it in its browserbase.io/session-revision annotation.
	// +optional
	Revision int64 `json:"revision,omitempty"`

	// renewalTime is when the session is next due to be replaced (policy BeforeExpiry).
	// +optional
	RenewalTime *metav1.Time `json:"renewalTime,omitempty"`

	// lastRotationTime is when a successor's credentials last went into the Secret.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// previousId is the id of the session a renewal replaced, while it is being released.
	// +optional
	PreviousID string `json:"previousId,omitempty"`

	// queuePosition is this resource's place in its project's create queue while it waits
	// (condition Reconciling, reason Queued); empty otherwise.
	// +optional
	QueuePosition int32 `json:"queuePosition,omitempty"`

	// queueEstimate is when the queue expects to admit this resource's create, while it waits.
	// +optional
	QueueEstimate *metav1.Time `json:"queueEstimate,omitempty"`
}

// BrowserSession is a Browserbase cloud-browser session. The operator creates the session, keeps
// its status here, writes its credentials into a Secret, and releases it when this resource is
// deleted.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bbs,categories=browserbase
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.status.region`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Revision",type=integer,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Renews",type=string,JSONPath=`.status.renewalTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Queue",type=integer,JSONPath=`.status.queuePosition`,priority=1
// The userMetadata JSON is {"<key>":"<value>",…,"k8s":{"uid":"<36>","namespace":"<ns>","name":"<name>","attempt":"<16>"}}:
// 6 characters around each entry, 108 plus the namespace and name for the tag (and the cluster's
// identity, which this rule leaves out too). The namespace is not
// visible to CEL, so this rule counts it as one character: it never refuses metadata Browserbase
// would accept, and the operator checks the exact length before it calls Browserbase.
// +kubebuilder:validation:XValidation:rule="!has(self.spec.metadata) || self.spec.metadata.map(k, size(k) + size(self.spec.metadata[k]) + 6).sum() + size(self.metadata.name) + 109 < 512",message="spec.metadata is too large: with the operator's tag of this resource (UID, namespace, name, create attempt) the userMetadata JSON would reach Browserbase's 512-character limit; shorten keys or values"
// The default Secret name is the resource's name plus "-browserbase" (12 characters), and a Secret
// name has at most 253: a longer name would create a session whose credentials have nowhere to go.
// +kubebuilder:validation:XValidation:rule="has(self.spec.secretName) || size(self.metadata.name) <= 241",message="metadata.name is longer than 241 characters, so the default Secret name (<name>-browserbase) would exceed 253; use a shorter name or set spec.secretName"
type BrowserSession struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec describes the session to create. It is immutable, except deletionPolicy (switching to
	// Orphan before a delete is a normal need) and renewal.
	// +required
	// +kubebuilder:validation:XValidation:rule="(has(self.projectId) == has(oldSelf.projectId)) && (!has(self.projectId) || self.projectId == oldSelf.projectId) && (has(self.region) == has(oldSelf.region)) && (!has(self.region) || self.region == oldSelf.region) && (has(self.timeout) == has(oldSelf.timeout)) && (!has(self.timeout) || self.timeout == oldSelf.timeout) && (has(self.keepAlive) == has(oldSelf.keepAlive)) && (!has(self.keepAlive) || self.keepAlive == oldSelf.keepAlive) && (has(self.metadata) == has(oldSelf.metadata)) && (!has(self.metadata) || self.metadata == oldSelf.metadata) && (has(self.extensionId) == has(oldSelf.extensionId)) && (!has(self.extensionId) || self.extensionId == oldSelf.extensionId) && (has(self.browserSettings) == has(oldSelf.browserSettings)) && (!has(self.browserSettings) || self.browserSettings == oldSelf.browserSettings) && (has(self.proxies) == has(oldSelf.proxies)) && (!has(self.proxies) || self.proxies == oldSelf.proxies) && (has(self.apiKeySecretRef) == has(oldSelf.apiKeySecretRef)) && (!has(self.apiKeySecretRef) || self.apiKeySecretRef == oldSelf.apiKeySecretRef) && (has(self.secretName) == has(oldSelf.secretName)) && (!has(self.secretName) || self.secretName == oldSelf.secretName) && (has(self.projectRef) == has(oldSelf.projectRef)) && (!has(self.projectRef) || self.projectRef == oldSelf.projectRef)",message="spec is immutable except deletionPolicy and renewal: a Browserbase session cannot be changed once created; delete this BrowserSession and create a new one"
	Spec BrowserSessionSpec `json:"spec"`

	// status is the session as the operator last observed it.
	// The API server fills in observedGeneration 0 until the operator first writes status, so that
	// kstatus-based tools (kubectl wait, Flux) see a resource the operator has not yet reached as
	// InProgress: kstatus takes one with no status at all for Current.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status BrowserSessionStatus `json:"status,omitzero"`
}

// BrowserSessionList is a list of BrowserSessions.
// +kubebuilder:object:root=true
type BrowserSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []BrowserSession `json:"items"`
}
