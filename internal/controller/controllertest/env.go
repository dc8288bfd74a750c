package controllertest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/event"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/operator"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/scheme"
)

// DefaultKey is the API key StartEnv's emulator accepts for its project DefaultProject, and the
// operator's default key in Env.Credentials.
const (
	DefaultKey     = "bb_test_default_key_0123456789"
	DefaultProject = "proj-default"
)

// EnvOptions is what differs between the envtest suites.
type EnvOptions struct {
	// Emulator is the Browserbase emulator the reconcilers talk to, configured by the suite
	// (more keys, faults); nil for a new one. StartEnv adds DefaultKey to it.
	Emulator *emulator.Server
	// WrapTransport wraps the manager's requests to the API server, to observe them (nil: none).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Env is a control plane with the operator's CRDs, a manager set up as the operator's (scheme,
// cache options), and a Browserbase emulator behind an HTTP client. The suite registers its
// reconcilers with Manager, then calls Run.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is cache-less, so assertions see the API server, not a lagging cache.
	Client client.Client
	// Manager is not started until Run.
	Manager ctrl.Manager
	// Emulator serves the Browserbase API to Browserbase.
	Emulator    *emulator.Server
	Browserbase *browserbase.HTTPClient

	testEnv *envtest.Environment
	server  *httptest.Server
	cancel  context.CancelFunc
	done    chan error
}

// crdDirectory is config/crd/bases, found from this file rather than from the working
// directory, which is each test package's own.
func crdDirectory() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "config", "crd", "bases")
}

// StartEnv starts the control plane and the emulator, and makes the manager. On error, what was
// started is stopped.
func StartEnv(opts EnvOptions) (_ *Env, err error) {
	e := &Env{
		testEnv: &envtest.Environment{
			CRDDirectoryPaths:     []string{crdDirectory()},
			ErrorIfCRDPathMissing: true,
			BinaryAssetsDirectory: EnvtestAssets(),
		},
		Emulator: opts.Emulator,
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Stop())
		}
	}()
	if e.Config, err = e.testEnv.Start(); err != nil {
		return nil, err
	}
	s := scheme.New()
	if e.Client, err = client.New(e.Config, client.Options{Scheme: s}); err != nil {
		return nil, err
	}

	if e.Emulator == nil {
		e.Emulator = emulator.New()
	}
	e.Emulator.AddKey(DefaultKey, emulator.Project{ID: DefaultProject, Name: "default"})
	e.server = httptest.NewServer(e.Emulator)
	if e.Browserbase, err = browserbase.NewHTTPClient(e.server.URL, browserbase.WithTimeout(5*time.Second)); err != nil {
		return nil, err
	}

	mgrConfig := rest.CopyConfig(e.Config)
	if opts.WrapTransport != nil {
		mgrConfig.Wrap(opts.WrapTransport)
	}
	e.Manager, err = ctrl.NewManager(mgrConfig, ctrl.Options{
		Scheme:                 s,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  operator.CacheOptions(),
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Credentials resolves API keys as the operator does, with DefaultKey as its default, and
// looks again at a missing key Secret every second.
func (e *Env) Credentials() *reconcile.Credentials {
	return &reconcile.Credentials{Reader: e.Manager.GetAPIReader(), Default: DefaultKey, RecheckInterval: time.Second}
}

// Kit records events through the manager, as the operator does.
func (e *Env) Kit() reconcile.Kit {
	return reconcile.Kit{Recorder: e.Manager.GetEventRecorder("browserbase-session-operator")}
}

// Run starts the manager in the background; Stop stops it and reports its error.
func (e *Env) Run() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.Manager.Start(ctx) }()
}

// Stop stops the manager, the emulator's server and the control plane, whichever were started.
func (e *Env) Stop() error {
	var errs []error
	if e.cancel != nil {
		e.cancel()
		errs = append(errs, <-e.done)
		e.cancel = nil
	}
	if e.server != nil {
		e.server.Close()
		e.server = nil
	}
	if e.Config != nil {
		errs = append(errs, e.testEnv.Stop())
		e.Config = nil
	}
	return errors.Join(errs...)
}

// SessionWaker is how the queue and the feed wake BrowserSessions in a suite, as main.go wires
// them: a channel the BrowserSession reconciler watches, and the function that sends to it.
type SessionWaker struct {
	C chan event.GenericEvent
}

// NewSessionWaker returns a waker with room for a burst of wakes.
func NewSessionWaker() *SessionWaker { return &SessionWaker{C: make(chan event.GenericEvent, 4096)} }

// Wake wakes the BrowserSession name.
func (w *SessionWaker) Wake(name types.NamespacedName) {
	bs := &v1alpha1.BrowserSession{}
	bs.Namespace, bs.Name = name.Namespace, name.Name
	w.C <- event.GenericEvent{Object: bs}
}
