package browsersession

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/controller/controllertest"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/queue"
)

// API keys the emulator accepts, each for its own project.
const (
	defaultKey = controllertest.DefaultKey
	teamKey    = "bb_test_team_key_0123456789"
	limitedKey = "bb_test_limited_key_0123456789"
	westKey    = "bb_test_west_only_key_0123456789"
	// A second single-slot key: a 429 closes the operator's create queue for its key, so specs
	// that fill a slot each use their own.
	oneSlotKey = "bb_test_one_slot_key_0123456789"
)

var (
	env       *controllertest.Env
	k8sClient client.Client // cache-less, so assertions see the API server, not a lagging cache
	emu       *emulator.Server
)

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	controllertest.SuiteDefaults()
	emu = emulator.New()
	emu.AddKey(teamKey, emulator.Project{ID: "proj-team", Name: "team"})
	emu.AddKey(limitedKey, emulator.Project{ID: "proj-limited", Name: "limited", Concurrency: 1})
	emu.AddKey(oneSlotKey, emulator.Project{ID: "proj-one-slot", Name: "one-slot", Concurrency: 1})
	emu.AddKey(westKey, emulator.Project{ID: "proj-west", Name: "west", Regions: []string{"us-west-2"}})
	// As the real API allows (its document marks them optional): a get without the connect URL
	// and signing key, which only the create answer then carries.
	emu.SetGetReturnsConnect(false)

	// The manager's requests go through apiWrites, so that specs can count its writes.
	var err error
	env, err = controllertest.StartEnv(controllertest.EnvOptions{Emulator: emu, WrapTransport: apiWrites.wrap})
	Expect(err).NotTo(HaveOccurred())
	k8sClient = env.Client
	mgr := env.Manager
	waker := controllertest.NewSessionWaker()
	queues := queue.New(clock.RealClock{}, waker.Wake)
	Expect(mgr.Add(queues)).To(Succeed())
	Expect((&Reconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Browserbase:             env.Browserbase,
		Credentials:             env.Credentials(),
		PollInterval:            time.Second,
		MaxConcurrentReconciles: 4,
		Queue:                   queues,
		Wake:                    waker.C,
		CreateGracePeriod:       time.Second,
		Kit:                     env.Kit(),
	}).SetupWithManager(mgr)).To(Succeed())
	env.Run()
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
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// testNamespace creates a namespace for one spec; when the spec ends, its BrowserSessions are
// deleted and waited for.
func testNamespace(ctx SpecContext, prefix string) string {
	GinkgoHelper()
	return controllertest.Namespace(ctx, k8sClient, prefix, &v1alpha1.BrowserSessionList{})
}
