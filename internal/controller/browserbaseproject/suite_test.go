package browserbaseproject

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/browsersession"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/sessionfeed"
)

// API keys the emulator accepts, each for its own project.
const (
	keyA       = "bb_test_project_a_key_0123456789"
	keyB       = "bb_test_project_b_key_0123456789"
	keyLimited = "bb_test_project_limited_0123456789"
	keyShared  = "bb_test_project_shared_0123456789"
)

// listInterval is the feed's: how soon an ended session is noticed in these specs.
const listInterval = time.Second

var (
	env       *controllertest.Env
	k8sClient client.Client // cache-less
	emu       *emulator.Server
)

func TestProjects(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Projects Suite")
}

// The suite wires projects, the queue, the feed and BrowserSessions as main.go does. Missing
// Secrets are looked for again only every hour: a key that appears within seconds proves the watch.
var _ = BeforeSuite(func() {
	controllertest.SuiteDefaults()
	emu = emulator.New()
	emu.AddKey(keyA, emulator.Project{ID: "proj-a", Name: "a", Concurrency: 25, DefaultTimeout: 600})
	emu.AddKey(keyB, emulator.Project{ID: "proj-b", Name: "b", Concurrency: 3, DefaultTimeout: 300})
	emu.AddKey(keyLimited, emulator.Project{ID: "proj-limited", Name: "limited", Concurrency: 50, CreatesPerMinute: 20})
	emu.AddKey(keyShared, emulator.Project{ID: "proj-shared", Name: "shared", Concurrency: 10})
	emu.SetGetReturnsConnect(false)

	var err error
	env, err = controllertest.StartEnv(controllertest.EnvOptions{Emulator: emu})
	Expect(err).NotTo(HaveOccurred())
	k8sClient = env.Client
	mgr := env.Manager

	credentials := &reconcile.Credentials{Reader: mgr.GetAPIReader(), Default: controllertest.DefaultKey, RecheckInterval: time.Hour}
	registry := project.NewRegistry()
	waker := controllertest.NewSessionWaker()
	queues := queue.New(clock.RealClock{}, waker.Wake)
	Expect(mgr.Add(queues)).To(Succeed())
	feed := &sessionfeed.Feed{Browserbase: env.Browserbase, Clock: clock.RealClock{}, Interval: listInterval,
		Wake: waker.Wake, Live: queues.SetLive}
	Expect(mgr.Add(feed)).To(Succeed())
	mc, err := metadata.NewForConfig(mgr.GetConfig())
	Expect(err).NotTo(HaveOccurred())
	secrets := NewSecretWatch(mc)
	Expect(mgr.Add(secrets)).To(Succeed())
	router := browserbase.NewRouter(env.Browserbase, nil)
	for _, kind := range []string{v1alpha1.KindBrowserbaseProject, v1alpha1.KindClusterBrowserbaseProject} {
		Expect((&Reconciler{
			Client: mgr.GetClient(), Kit: env.Kit(), Kind: kind, Credentials: credentials,
			Browserbase: env.Browserbase, Router: router, Registry: registry, Queues: queues, Secrets: secrets,
			StatusInterval: time.Second,
		}).SetupWithManager(mgr)).To(Succeed())
	}
	Expect((&browsersession.Reconciler{
		Client:      mgr.GetClient(),
		APIReader:   mgr.GetAPIReader(),
		Browserbase: env.Browserbase,
		Credentials: credentials,
		Projects: &project.Resolver{Reader: mgr.GetClient(), Credentials: credentials, Registry: registry,
			RecheckInterval: time.Hour},
		PollInterval:            2 * time.Second, // short: a live session must still cost no read of its own
		MaxConcurrentReconciles: 4,
		Queue:                   queues,
		Feed:                    feed,
		Wake:                    waker.C,
		CreateGracePeriod:       time.Second,
		Kit:                     env.Kit(),
	}).SetupWithManager(mgr)).To(Succeed())
	env.Run()
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
