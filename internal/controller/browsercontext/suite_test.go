package browsercontext

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/scheme"
)

// The API key the emulator accepts, for its own project.
const defaultKey = "bb_test_default_key_0123456789"

var (
	testEnv   *envtest.Environment
	k8sClient client.Client // cache-less, so assertions see the API server, not a lagging cache
	bb        *browserbase.HTTPClient
	cancel    context.CancelFunc
)

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "BrowserContext Controller Suite")
}

// Only the BrowserContext reconciler runs: the BrowserSessions of these specs are objects that
// name a BrowserContext, nothing more.
var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	SetDefaultConsistentlyDuration(3 * time.Second)
	SetDefaultConsistentlyPollingInterval(200 * time.Millisecond)

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: controllertest.EnvtestAssets(),
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	scheme := scheme.New()
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	emu := emulator.New()
	emu.AddKey(defaultKey, emulator.Project{ID: "proj-default", Name: "default"})
	server := httptest.NewServer(emu)
	DeferCleanup(server.Close)
	bb, err = browserbase.NewHTTPClient(server.URL, browserbase.WithTimeout(5*time.Second))
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  operator.CacheOptions(),
	})
	Expect(err).NotTo(HaveOccurred())
	Expect((&Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Browserbase:  bb,
		Credentials:  &reconcile.Credentials{Reader: mgr.GetAPIReader(), Default: defaultKey, RecheckInterval: time.Second},
		PollInterval: time.Second,
		Kit:          reconcile.Kit{Recorder: mgr.GetEventRecorder("browserbase-session-operator")},
	}).SetupWithManager(mgr)).To(Succeed())

	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// newNamespace creates a namespace for one spec. When the spec ends, its BrowserSessions and
// BrowserContexts are deleted and waited for: envtest runs no namespace controller.
func newNamespace(ctx SpecContext, prefix string) string {
	GinkgoHelper()
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	Expect(k8sClient.Create(ctx, namespace)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(k8sClient.DeleteAllOf(ctx, &v1alpha1.BrowserSession{}, client.InNamespace(namespace.Name))).To(Succeed())
		Expect(k8sClient.DeleteAllOf(ctx, &v1alpha1.BrowserContext{}, client.InNamespace(namespace.Name))).To(Succeed())
		Eventually(func(g Gomega) {
			list := &v1alpha1.BrowserContextList{}
			g.Expect(k8sClient.List(ctx, list, client.InNamespace(namespace.Name))).To(Succeed())
			g.Expect(list.Items).To(BeEmpty())
		}).Should(Succeed())
	})
	return namespace.Name
}
