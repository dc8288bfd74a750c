package browsercontext

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
)

// The API key the emulator accepts, for its own project.
const defaultKey = controllertest.DefaultKey

// env is the control plane, the manager and the emulator; env.Client is cache-less, so
// assertions see the API server, not a lagging cache.
var env *controllertest.Env

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
	// Wired as main.go does, but read from Browserbase every second rather than ten minutes.
	r := &Reconciler{Browserbase: env.Browserbase, Credentials: env.Credentials(), Kit: env.Kit(), PollInterval: time.Second}
	r.Client, r.APIReader = env.Manager.GetClient(), env.Manager.GetAPIReader()
	Expect(r.SetupWithManager(env.Manager)).To(Succeed())
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
	return controllertest.Namespace(ctx, env.Client, prefix, &v1alpha1.BrowserSessionList{}, &v1alpha1.BrowserContextList{})
}
