package browsercontext

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
)

// The API key the emulator accepts, for its own project.
const defaultKey = controllertest.DefaultKey

var (
	env       *controllertest.Env
	k8sClient client.Client // cache-less, so assertions see the API server, not a lagging cache
	bb        *browserbase.HTTPClient
)

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "BrowserContext Controller Suite")
}

// Only the BrowserContext reconciler runs: the BrowserSessions of these specs are objects that
// name a BrowserContext, nothing more.
var _ = BeforeSuite(func() {
	controllertest.SuiteDefaults()
	var err error
	env, err = controllertest.StartEnv(controllertest.EnvOptions{})
	Expect(err).NotTo(HaveOccurred())
	k8sClient, bb = env.Client, env.Browserbase
	mgr := env.Manager
	Expect((&Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Browserbase:  bb,
		Credentials:  env.Credentials(),
		PollInterval: time.Second,
		Kit:          env.Kit(),
	}).SetupWithManager(mgr)).To(Succeed())
	env.Run()
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// newNamespace creates a namespace for one spec; when the spec ends, its BrowserSessions and
// BrowserContexts are deleted and waited for.
func newNamespace(ctx SpecContext, prefix string) string {
	GinkgoHelper()
	return controllertest.Namespace(ctx, k8sClient, prefix, &v1alpha1.BrowserSessionList{}, &v1alpha1.BrowserContextList{})
}
