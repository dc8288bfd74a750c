package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Project kinds, as spec.projectRef.kind names them.
const (
	KindBrowserbaseProject        = "BrowserbaseProject"
	KindClusterBrowserbaseProject = "ClusterBrowserbaseProject"
)

// AnnotationDefaultProject is the annotation that, set to "true" on a ClusterBrowserbaseProject,
// makes it the project of every BrowserSession that names neither a projectRef nor an
// apiKeySecretRef. With more than one so marked, the oldest serves, so that marking a second one
// changes nothing for the sessions already using the first.
const AnnotationDefaultProject = "browserbase.io/default-project"

// ProjectReference names the BrowserbaseProject (in the resource's namespace) or the
// ClusterBrowserbaseProject a session uses.
type ProjectReference struct {
	// kind is BrowserbaseProject (the default: in this namespace) or ClusterBrowserbaseProject.
	// +optional
	// +kubebuilder:default=BrowserbaseProject
	// +kubebuilder:validation:Enum=BrowserbaseProject;ClusterBrowserbaseProject
	Kind string `json:"kind,omitempty"`

	// name of the project object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ProjectAPIKeySecretReference names the key of a Secret that holds a project's API key.
type ProjectAPIKeySecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the Secret: required on a ClusterBrowserbaseProject, not allowed on a
	// BrowserbaseProject (whose Secret is in its own namespace).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// key within the Secret. Defaults to apiKey.
	// +optional
	// +kubebuilder:default=apiKey
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// SessionDefaults are applied to the sessions of a project where their own spec leaves a field
// empty: a session's own value always wins.
// +kubebuilder:validation:XValidation:rule="!has(self.browserSettings) || !has(self.browserSettings.context)",message="sessionDefaults.browserSettings.context is not allowed: a context belongs to one session's namespace; set it on the BrowserSession"
type SessionDefaults struct {
	// region for sessions that do not name one.
	// +optional
	Region Region `json:"region,omitempty"`

	// timeout in seconds for sessions that do not give one, from 60 to 21600. Without it the
	// project's own default timeout (status.defaultTimeout) applies.
	// +optional
	// +kubebuilder:validation:Minimum=60
	// +kubebuilder:validation:Maximum=21600
	Timeout *int32 `json:"timeout,omitempty"`

	// keepAlive for sessions that do not set it.
	// +optional
	KeepAlive *bool `json:"keepAlive,omitempty"`

	// browserSettings for sessions that do not set browserSettings at all.
	// +optional
	BrowserSettings *BrowserSettings `json:"browserSettings,omitempty"`
}

// BrowserbaseProjectSpec describes a Browserbase project: the key to reach it, what its sessions
// get by default, and budgets below the plan's own limits.
type BrowserbaseProjectSpec struct {
	// apiKeySecretRef names the Secret key that holds the project's API key. A change of the
	// Secret takes effect within seconds: the operator watches it.
	// +required
	APIKeySecretRef ProjectAPIKeySecretReference `json:"apiKeySecretRef"`

	// projectId is the Browserbase project id. When empty, the project the key belongs to is used
	// (the key must then see exactly one).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	ProjectID string `json:"projectId,omitempty"`

	// baseURL is the Browserbase API to call, for example a proxy in front of it. Defaults to the
	// operator's --browserbase-url.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+(/[^\s?#]*)?$`
	BaseURL string `json:"baseURL,omitempty"`

	// sessionDefaults are applied to the sessions of this project that leave these fields empty.
	// +optional
	SessionDefaults *SessionDefaults `json:"sessionDefaults,omitempty"`

	// maxConcurrentSessions caps the sessions this operator keeps live in the project at once,
	// below the plan's concurrency (status.concurrency). Creates beyond it wait in the queue.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxConcurrentSessions *int32 `json:"maxConcurrentSessions,omitempty"`

	// maxCreatesPerMinute caps session creates per minute, below the plan's creation limit.
	// Without it the operator learns the limit from Browserbase's 429 answers.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxCreatesPerMinute *int32 `json:"maxCreatesPerMinute,omitempty"`
}

// NamespaceShare is the part of a ClusterBrowserbaseProject one namespace may use.
type NamespaceShare struct {
	// namespace that may use the project.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// maxConcurrentSessions caps the namespace's live sessions in the project. Without it the
	// namespace may use the whole project.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxConcurrentSessions *int32 `json:"maxConcurrentSessions,omitempty"`
}

// ClusterBrowserbaseProjectSpec is a BrowserbaseProjectSpec for the whole cluster, shared out
// between namespaces.
type ClusterBrowserbaseProjectSpec struct {
	BrowserbaseProjectSpec `json:",inline"`

	// namespaceShares, when set, are the only namespaces whose sessions may use the project, each
	// with an optional cap. When empty every namespace may.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=namespace
	NamespaceShares []NamespaceShare `json:"namespaceShares,omitempty"`
}

// BrowserbaseProjectStatus is what the operator last learned of the project.
type BrowserbaseProjectStatus struct {
	// observedGeneration is the metadata.generation this status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is True while the key is readable and Browserbase accepts it for the
	// project; Stalled says what to change when it cannot be; BudgetsValid is False when a
	// budget is above the plan's limit (the plan's limit then applies).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// projectId is the Browserbase project id, as given or as found from the key.
	// +optional
	ProjectID string `json:"projectId,omitempty"`

	// projectName is the project's name in Browserbase.
	// +optional
	ProjectName string `json:"projectName,omitempty"`

	// concurrency is the plan's concurrent-session limit, as Browserbase reports it.
	// +optional
	Concurrency int32 `json:"concurrency,omitempty"`

	// defaultTimeout is the project's default session timeout in seconds, as Browserbase reports it.
	// +optional
	DefaultTimeout int32 `json:"defaultTimeout,omitempty"`

	// createsPerMinuteLimit is the creation limit in force: the budget, or what Browserbase's 429
	// answers taught (0: none known).
	// +optional
	CreatesPerMinuteLimit int32 `json:"createsPerMinuteLimit,omitempty"`

	// sessionsRunning is the project's running sessions, as last listed.
	// +optional
	SessionsRunning int32 `json:"sessionsRunning"`

	// sessionsWaiting is the creates waiting in the project's queue.
	// +optional
	SessionsWaiting int32 `json:"sessionsWaiting"`

	// createsLastMinute is the creates admitted in the last minute.
	// +optional
	CreatesLastMinute int32 `json:"createsLastMinute"`
}

// BrowserbaseProject is a Browserbase project for the sessions of one namespace: its API key
// (watched), session defaults, and budgets under which creates are queued fairly.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bbp,categories=browserbase
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Project",type=string,JSONPath=`.status.projectId`
// +kubebuilder:printcolumn:name="Concurrency",type=integer,JSONPath=`.status.concurrency`
// +kubebuilder:printcolumn:name="Running",type=integer,JSONPath=`.status.sessionsRunning`
// +kubebuilder:printcolumn:name="Waiting",type=integer,JSONPath=`.status.sessionsWaiting`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.apiKeySecretRef.__namespace__)",message="spec.apiKeySecretRef.namespace is not allowed on a BrowserbaseProject: its Secret is in its own namespace (use a ClusterBrowserbaseProject to name another)"
type BrowserbaseProject struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec describes the project.
	// +required
	Spec BrowserbaseProjectSpec `json:"spec"`

	// status is what the operator last learned of the project.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status BrowserbaseProjectStatus `json:"status,omitzero"`
}

// BrowserbaseProjectList is a list of BrowserbaseProjects.
// +kubebuilder:object:root=true
type BrowserbaseProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []BrowserbaseProject `json:"items"`
}

// ClusterBrowserbaseProject is a Browserbase project for the whole cluster, optionally shared out
// between namespaces; annotated browserbase.io/default-project: "true", it serves every session
// that names no project and no key.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cbbp,categories=browserbase
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Project",type=string,JSONPath=`.status.projectId`
// +kubebuilder:printcolumn:name="Concurrency",type=integer,JSONPath=`.status.concurrency`
// +kubebuilder:printcolumn:name="Running",type=integer,JSONPath=`.status.sessionsRunning`
// +kubebuilder:printcolumn:name="Waiting",type=integer,JSONPath=`.status.sessionsWaiting`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.apiKeySecretRef.__namespace__)",message="spec.apiKeySecretRef.namespace is required on a ClusterBrowserbaseProject: name the namespace of the Secret that holds the key"
type ClusterBrowserbaseProject struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec describes the project.
	// +required
	Spec ClusterBrowserbaseProjectSpec `json:"spec"`

	// status is what the operator last learned of the project.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status BrowserbaseProjectStatus `json:"status,omitzero"`
}

// ClusterBrowserbaseProjectList is a list of ClusterBrowserbaseProjects.
// +kubebuilder:object:root=true
type ClusterBrowserbaseProjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ClusterBrowserbaseProject `json:"items"`
}

// GetConditions returns the conditions of the resource, for the shared reconcile machinery.
func (in *BrowserbaseProject) GetConditions() *[]metav1.Condition { return &in.Status.Conditions }

// SetObservedGeneration records the generation the status was computed from.
func (in *BrowserbaseProject) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetConditions returns the conditions of the resource, for the shared reconcile machinery.
func (in *ClusterBrowserbaseProject) GetConditions() *[]metav1.Condition {
	return &in.Status.Conditions
}

// SetObservedGeneration records the generation the status was computed from.
func (in *ClusterBrowserbaseProject) SetObservedGeneration(g int64) {
	in.Status.ObservedGeneration = g
}
