package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelSessionTemplate opts a Pod (or a Pod template) in: the value names the
// BrowserSessionTemplate in the Pod's namespace that its session is made from. The admission
// webhook's objectSelector and the manager's Pod cache select on it, so Pods without it are
// never seen.
const LabelSessionTemplate = "browserbase.io/session-template"

// AnnotationSessionSecret is, on an opted-in Pod, the name of the Secret its session's
// credentials go to (and of its BrowserSession), picked at admission: a generateName Pod has no
// name yet then.
const AnnotationSessionSecret = "browserbase.io/session-secret"

// Labels on a Pod's BrowserSession, naming the Pod it serves.
const (
	LabelPodName = "browserbase.io/pod-name"
	LabelPodUID  = "browserbase.io/pod-uid"
)

// DefaultSessionVolumeMountPath is where the Secret volume is mounted when injection.volume
// does not say.
const DefaultSessionVolumeMountPath = "/var/run/secrets/browserbase"

// Default names of the environment variables injected into containers.
const (
	DefaultEnvConnectURL        = "BROWSERBASE_CONNECT_URL"
	DefaultEnvSessionID         = "BROWSERBASE_SESSION_ID"
	DefaultEnvSigningKey        = "BROWSERBASE_SIGNING_KEY"
	DefaultEnvSeleniumRemoteURL = "BROWSERBASE_SELENIUM_REMOTE_URL"
)

// BrowserSessionTemplateSpec describes the session each opted-in Pod gets, and how the Pod
// receives its credentials.
type BrowserSessionTemplateSpec struct {
	// template is the spec of each Pod's BrowserSession: the same fields, validation and
	// defaults as a BrowserSession's, renewal included. secretName is chosen per Pod and may not
	// be set here.
	// +kubebuilder:validation:XValidation:rule="!has(self.secretName)",message="secretName is chosen for each Pod at admission; remove it from the template"
	Template BrowserSessionSpec `json:"template"`

	// injection says how Pods receive their session. By default: environment variables and the
	// Secret volume, in every container (not init containers).
	// +optional
	Injection *Injection `json:"injection,omitempty"`
}

// Injection says how a Pod receives its session's credentials.
type Injection struct {
	// env injects environment variables from the Secret (secretKeyRef). They are read when a
	// container starts: a renewed session reaches them only through a restart. Enabled unless
	// env.disabled is true.
	// +optional
	Env *EnvInjection `json:"env,omitempty"`

	// volume mounts the Secret as files named like its keys (connectUrl, sessionId, …). Files
	// follow renewals without a restart: the recommended form. Enabled unless volume.disabled.
	// +optional
	Volume *VolumeInjection `json:"volume,omitempty"`

	// containers are the names of the containers that receive the session; empty: every
	// container (init containers never do, unless named here).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	Containers []string `json:"containers,omitempty"`
}

// EnvInjection names the environment variables; an empty name keeps its default, "-" leaves
// that variable out.
type EnvInjection struct {
	// disabled turns environment variables off.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// connectUrl is the variable of the Secret's connectUrl (default BROWSERBASE_CONNECT_URL).
	// +optional
	// +kubebuilder:validation:Pattern=`^(-|[A-Za-z_][A-Za-z0-9_]*)$`
	ConnectURL string `json:"connectUrl,omitempty"`
	// sessionId is the variable of the Secret's sessionId (default BROWSERBASE_SESSION_ID).
	// +optional
	// +kubebuilder:validation:Pattern=`^(-|[A-Za-z_][A-Za-z0-9_]*)$`
	SessionID string `json:"sessionId,omitempty"`
	// signingKey is the variable of the Secret's signingKey (default BROWSERBASE_SIGNING_KEY).
	// +optional
	// +kubebuilder:validation:Pattern=`^(-|[A-Za-z_][A-Za-z0-9_]*)$`
	SigningKey string `json:"signingKey,omitempty"`
	// seleniumRemoteUrl is the variable of the Secret's seleniumRemoteUrl (default
	// BROWSERBASE_SELENIUM_REMOTE_URL).
	// +optional
	// +kubebuilder:validation:Pattern=`^(-|[A-Za-z_][A-Za-z0-9_]*)$`
	SeleniumRemoteURL string `json:"seleniumRemoteUrl,omitempty"`
}

// VolumeInjection says where the Secret volume is mounted.
type VolumeInjection struct {
	// disabled turns the volume off.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// mountPath is where the files appear (default /var/run/secrets/browserbase).
	// +optional
	// +kubebuilder:validation:Pattern=`^/.*`
	// +kubebuilder:validation:MaxLength=1024
	MountPath string `json:"mountPath,omitempty"`
}

// SessionCounts counts the sessions a template serves, by state.
type SessionCounts struct {
	// ready sessions are Ready.
	Ready int32 `json:"ready"`
	// pending sessions are on their way to Ready.
	Pending int32 `json:"pending"`
	// failed sessions are Stalled.
	Failed int32 `json:"failed"`
}

// BrowserSessionTemplateStatus is what the operator last observed of the template's sessions.
type BrowserSessionTemplateStatus struct {
	// observedGeneration is the metadata.generation this status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready is True once the template is accepted.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// sessions counts the BrowserSessions made from this template, by state.
	// +optional
	Sessions SessionCounts `json:"sessions,omitempty"`
}

// BrowserSessionTemplate gives every Pod labelled browserbase.io/session-template=<name> a
// Browserbase session of its own, in a Secret of its own, released when the Pod ends.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bbst,categories=browserbase
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Sessions-Ready",type=integer,JSONPath=`.status.sessions.ready`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.sessions.pending`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.sessions.failed`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BrowserSessionTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	Spec BrowserSessionTemplateSpec `json:"spec"`
	// +optional
	Status BrowserSessionTemplateStatus `json:"status,omitzero"`
}

// BrowserSessionTemplateList is a list of BrowserSessionTemplates.
// +kubebuilder:object:root=true
type BrowserSessionTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []BrowserSessionTemplate `json:"items"`
}

// GetConditions returns the conditions of the resource, for the shared reconcile machinery.
func (in *BrowserSessionTemplate) GetConditions() *[]metav1.Condition { return &in.Status.Conditions }

// SetObservedGeneration records the generation the status was computed from.
func (in *BrowserSessionTemplate) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
