// Package scheme builds the runtime.Scheme the operator and its tests use: Kubernetes' built-in
// types and browserbase.io/v1alpha1.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// New returns a scheme with the built-in types and the operator's API.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}
