package browsersession

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
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

// API keys the emulator accepts, each for its own project.
const (
	defaultKey = "bb_test_default_key_0123456789"
	teamKey    = "bb_test_team_key_0123456789"
	limitedKey = "bb_test_limited_key_0123456789"
	westKey    = "bb_test_west_only_key_0123456789"
	// A second single-slot key: a 429 closes the operator's create gate for its key, so specs
	// that fill a slot each use their own.
	oneSlotKey = "bb_test_one_slot_key_0123456789"
)

var (
	testEnv   *envtest.Environment
	k8sClient client.Client // cache-less, so assertions see the API server, not a lagging cache
	emu       *emulator.Server
	cancel    context.CancelFunc
)

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

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

	emu = emulator.New()
	emu.AddKey(defaultKey, emulator.Project{ID: "proj-default", Name: "default"})
	emu.AddKey(teamKey, emulator.Project{ID: "proj-team", Name: "team"})
	emu.AddKey(limitedKey, emulator.Project{ID: "proj-limited", Name: "limited", Concurrency: 1})
	emu.AddKey(oneSlotKey, emulator.Project{ID: "proj-one-slot", Name: "one-slot", Concurrency: 1})
	emu.AddKey(westKey, emulator.Project{ID: "proj-west", Name: "west", Regions: []string{"us-west-2"}})
	// As the real API allows (its document marks them optional): a get without the connect URL
	// and signing key, which only the create answer then carries.
	emu.SetGetReturnsConnect(false)
	server := httptest.NewServer(emu)
	DeferCleanup(server.Close)
	bb, err := browserbase.NewHTTPClient(server.URL, browserbase.WithTimeout(5*time.Second))
	Expect(err).NotTo(HaveOccurred())

	// The manager's requests go through apiWrites, so that specs can count its writes.
	mgrConfig := rest.CopyConfig(cfg)
	mgrConfig.Wrap(apiWrites.wrap)
	mgr, err := ctrl.NewManager(mgrConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  operator.CacheOptions(),
	})
	Expect(err).NotTo(HaveOccurred())
	Expect((&Reconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Browserbase:             bb,
		Credentials:             &reconcile.Credentials{Reader: mgr.GetAPIReader(), Default: defaultKey, RecheckInterval: time.Second},
		PollInterval:            time.Second,
		MaxConcurrentReconciles: 4,
		CreateGate:              NewCreateGate(clock.RealClock{}, 600, 20),
		CreateGracePeriod:       time.Second,
		Kit:                     reconcile.Kit{Recorder: mgr.GetEventRecorder("browserbase-session-operator")},
	}).SetupWithManager(mgr)).To(Succeed())

	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

// apiWrites records every write the manager makes to the API server.
var apiWrites = &writeLog{byNamespace: map[string][]string{}}

// writeLog records successful writes and Secret reads, by namespace, as "VERB
// resource[/subresource]", such as "PATCH browsersessions/status": what the API server's
// apiserver_request_total counts.
type writeLog struct {
	mu          sync.Mutex
	byNamespace map[string][]string
}

func (w *writeLog) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil || (resp.StatusCode >= 300 && req.Method != http.MethodGet) {
			return resp, err
		}
		// /api/v1/namespaces/<ns>/<resource>[/<name>[/<subresource>]], or /apis/<group>/<version>/...
		parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
		i := slices.Index(parts, "namespaces")
		if i < 0 || len(parts) < i+3 {
			return resp, err
		}
		// Reads of Secrets count too: the operator's cache holds none of their data.
		if req.Method == http.MethodGet && (parts[i+2] != "secrets" || req.URL.Query().Get("watch") == "true") {
			return resp, err
		}
		what := req.Method + " " + parts[i+2]
		if len(parts) > i+4 {
			what += "/" + parts[i+4]
		}
		w.mu.Lock()
		w.byNamespace[parts[i+1]] = append(w.byNamespace[parts[i+1]], what)
		w.mu.Unlock()
		return resp, err
	})
}

// of returns the writes made in a namespace so far.
func (w *writeLog) of(namespace string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.byNamespace[namespace])
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// testNamespace creates a namespace for one spec. When the spec ends, its BrowserSessions are
// deleted and waited for: envtest runs no namespace controller, and no session of one spec may
// keep polling the emulator during the next.
func testNamespace(ctx SpecContext, prefix string) string {
	GinkgoHelper()
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	Expect(k8sClient.Create(ctx, namespace)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(k8sClient.DeleteAllOf(ctx, &v1alpha1.BrowserSession{}, client.InNamespace(namespace.Name))).To(Succeed())
		Eventually(func(g Gomega) {
			list := &v1alpha1.BrowserSessionList{}
			g.Expect(k8sClient.List(ctx, list, client.InNamespace(namespace.Name))).To(Succeed())
			g.Expect(list.Items).To(BeEmpty())
		}).Should(Succeed())
	})
	return namespace.Name
}
