package podsession

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/browsersession"
	"github.com/browserbase/session-operator/internal/controller/browsersessiontemplate"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/queue"
)

// env is the control plane, the manager and the emulator; env.Client is cache-less, so
// assertions see the API server, not a lagging cache.
var env *controllertest.Env

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Pod Controller Suite")
}

// The three reconcilers a Pod's session goes through run, wired as main.go does: this one makes
// the BrowserSession, the BrowserSession reconciler its Browserbase session and Secret, and the
// template reconciler counts it. envtest runs no kubelet and no garbage collector: the specs set
// a Pod's phase themselves, and nothing but the operator deletes a BrowserSession.
var _ = BeforeSuite(func() {
	controllertest.SuiteDefaults()
	var err error
	env, err = controllertest.StartEnv(controllertest.EnvOptions{})
	Expect(err).NotTo(HaveOccurred())
	mgr := env.Manager
	waker := controllertest.NewSessionWaker()
	queues := queue.New(clock.RealClock{}, waker.Wake)
	Expect(mgr.Add(queues)).To(Succeed())
	Expect((&Reconciler{Client: mgr.GetClient(), Kit: env.Kit()}).SetupWithManager(mgr)).To(Succeed())
	Expect((&browsersessiontemplate.Reconciler{Client: mgr.GetClient(), Kit: env.Kit()}).SetupWithManager(mgr)).To(Succeed())
	Expect((&browsersession.Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Browserbase:  env.Browserbase,
		Credentials:  env.Credentials(),
		PollInterval: time.Second,
		Queue:        queues,
		Wake:         waker.C,
		Kit:          env.Kit(),
	}).SetupWithManager(mgr)).To(Succeed())
	env.Run()
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// newNamespace creates a namespace for one spec; when the spec ends, its Pods (first: a running
// Pod would get its session again) and BrowserSessions are deleted and waited for.
func newNamespace(ctx SpecContext, prefix string) string {
	GinkgoHelper()
	return controllertest.Namespace(ctx, env.Client, prefix, &corev1.PodList{}, &v1alpha1.BrowserSessionList{})
}
