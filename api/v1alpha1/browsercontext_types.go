package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BrowserContextSpec describes the Browserbase context to create: a browser profile (cookies,
// local storage, cache) that BrowserSessions load, and with persist save back into.
type BrowserContextSpec struct {
	// projectId is the Browserbase project to create the context in. When empty, Browserbase
	// infers the project from the API key. Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="projectId is immutable: a context cannot move between projects"
	ProjectID string `json:"projectId,omitempty"`

	// apiKeySecretRef names a Secret in this namespace that holds the Browserbase API key. When
	// empty, the operator's default key is used. Immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="apiKeySecretRef is immutable: the context belongs to the key's project"
	APIKeySecretRef *APIKeySecretReference `json:"apiKeySecretRef,omitempty"`

	// secretName is the Secret the operator writes the context id into (key contextId): the id
	// opens the browser's logged-in state, so it is kept out of status. Defaults to
	// "<metadata.name>-browserbase-context". Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="secretName is immutable"
	SecretName string `json:"secretName,omitempty"`

	// deletionPolicy says what happens to the Browserbase context when this resource is deleted:
	// Delete (the default) deletes it, once no BrowserSession uses it; Orphan keeps it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// BrowserContextStatus is what the operator last observed of the context. The context id itself
// is in the Secret named by secretName.
type BrowserContextStatus struct {
	// observedGeneration is the metadata.generation this status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is True while the context exists and its Secret is written; Reconciling
	// while the operator works towards that; Stalled when it needs a change from you.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// redactedId is the context id with all but its first characters hidden, to tell contexts
	// apart without revealing the id.
	// +optional
	RedactedID string `json:"redactedId,omitempty"`

	// projectId is the Browserbase project the context belongs to.
	// +optional
	ProjectID string `json:"projectId,omitempty"`

	// createdAt is when Browserbase created the context.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`

	// secretName is the Secret that holds the context id (key contextId).
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// idDigest is "sha256:" and the hex SHA-256 digest of the id of the context the operator
	// created (or first found in the Secret), set once the id is in the Secret. It tells, without
	// revealing the id, whether the Secret still holds that id: a Secret that lost it, or holds
	// another, stalls the resource instead of a new context being made or another one deleted.
	// +optional
	// +kubebuilder:validation:MaxLength=71
	IDDigest string `json:"idDigest,omitempty"`
}

// BrowserContext is a Browserbase context: a persisted browser profile that BrowserSessions
// refer to by name (spec.browserSettings.context.name). The operator creates it, writes its id
// into a Secret, and deletes it when this resource is deleted and no BrowserSession uses it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bbc,categories=browserbase
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.redactedId`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.secretName) || size(self.metadata.name) <= 233",message="metadata.name is longer than 233 characters, so the default Secret name (<name>-browserbase-context) would exceed 253; use a shorter name or set spec.secretName"
type BrowserContext struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec describes the context to create.
	// +optional
	Spec BrowserContextSpec `json:"spec,omitzero"`

	// status is the context as the operator last observed it.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status BrowserContextStatus `json:"status,omitzero"`
}

// BrowserContextList is a list of BrowserContexts.
// +kubebuilder:object:root=true
type BrowserContextList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []BrowserContext `json:"items"`
}

// GetConditions returns the conditions of the resource, for the shared reconcile machinery.
func (in *BrowserContext) GetConditions() *[]metav1.Condition { return &in.Status.Conditions }

// SetObservedGeneration records the generation the status was computed from.
func (in *BrowserContext) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }
