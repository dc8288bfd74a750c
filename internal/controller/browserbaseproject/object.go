package browserbaseproject

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// object is either project kind.
type object interface {
	reconcile.StatusObject
	reconcile.Object
}

// view is what the reconciler reads and writes of either kind.
type view struct {
	ref    project.Ref
	spec   *v1alpha1.BrowserbaseProjectSpec
	shares []v1alpha1.NamespaceShare
	// cluster says that shares apply (nil shares on a cluster project: every namespace).
	cluster bool
	status  *v1alpha1.BrowserbaseProjectStatus
	// secretNamespace is where the key's Secret is.
	secretNamespace string
}

// viewOf is obj seen through view.
func viewOf(obj client.Object) view {
	switch p := obj.(type) {
	case *v1alpha1.BrowserbaseProject:
		return view{
			ref:  project.Ref{Kind: v1alpha1.KindBrowserbaseProject, Namespace: p.Namespace, Name: p.Name},
			spec: &p.Spec, status: &p.Status, secretNamespace: p.Namespace,
		}
	case *v1alpha1.ClusterBrowserbaseProject:
		return view{
			ref:  project.Ref{Kind: v1alpha1.KindClusterBrowserbaseProject, Name: p.Name},
			spec: &p.Spec.BrowserbaseProjectSpec, shares: p.Spec.NamespaceShares, cluster: true,
			status: &p.Status, secretNamespace: p.Spec.APIKeySecretRef.Namespace,
		}
	}
	panic("browserbaseproject: not a project kind") // the Object constraint rules it out
}

// keyName is the Secret key that holds the API key.
func (v view) keyName() string {
	if v.spec.APIKeySecretRef.Key == "" {
		return reconcile.DefaultAPIKeyRef
	}
	return v.spec.APIKeySecretRef.Key
}

// shareMap is the namespaces that may use the project with their caps (0: none), nil for all.
func (v view) shareMap() map[string]int {
	if !v.cluster || len(v.shares) == 0 {
		return nil
	}
	out := make(map[string]int, len(v.shares))
	for _, s := range v.shares {
		out[s.Namespace] = 0
		if s.MaxConcurrentSessions != nil {
			out[s.Namespace] = int(*s.MaxConcurrentSessions)
		}
	}
	return out
}
