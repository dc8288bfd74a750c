// Package v1alpha1 contains the browserbase.io/v1alpha1 API: BrowserSession and the kinds around it
// (BrowserContext, BrowserSessionTemplate, BrowserbaseProject, ClusterBrowserbaseProject), their
// validation rules, and the condition types and reasons the operator reports.
// +kubebuilder:object:generate=true
// +groupName=browserbase.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "browserbase.io", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this API to a scheme. It depends on apimachinery only, so
	// that other projects can import this package cheaply.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &BrowserSession{}, &BrowserSessionList{}, &BrowserContext{}, &BrowserContextList{},
		&BrowserSessionTemplate{}, &BrowserSessionTemplateList{},
		&BrowserbaseProject{}, &BrowserbaseProjectList{}, &ClusterBrowserbaseProject{}, &ClusterBrowserbaseProjectList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
