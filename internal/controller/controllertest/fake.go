package controllertest

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/sessionindex"
	"github.com/browserbase/session-operator/internal/scheme"
)

// FakeClientBuilder is controller-runtime's fake client builder set up as the operator's
// manager: its scheme, the status subresources of the kinds, and the BrowserSession indexes
// (sessionindex), with funcs intercepting the client's calls.
func FakeClientBuilder(funcs interceptor.Funcs) *fake.ClientBuilder {
	return fake.NewClientBuilder().WithScheme(scheme.New()).
		WithStatusSubresource(&v1alpha1.BrowserSession{}, &v1alpha1.BrowserContext{},
			&v1alpha1.BrowserbaseProject{}, &v1alpha1.ClusterBrowserbaseProject{}).
		WithIndex(&v1alpha1.BrowserSession{}, sessionindex.ContextName, sessionindex.IndexFunc).
		WithIndex(&v1alpha1.BrowserSession{}, sessionindex.ContextID, sessionindex.IDIndexFunc).
		WithIndex(&v1alpha1.BrowserSession{}, sessionindex.Project, sessionindex.ProjectIndexFunc).
		WithInterceptorFuncs(funcs)
}

// MustGet reads obj again through c, or fails the test.
func MustGet(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
}
