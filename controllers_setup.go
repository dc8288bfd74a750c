package main

import (
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/controller/browserbaseproject"
	"github.com/browserbase/session-operator/internal/controller/browsercontext"
	"github.com/browserbase/session-operator/internal/controller/browsersession"
	"github.com/browserbase/session-operator/internal/controller/browsersessiontemplate"
	"github.com/browserbase/session-operator/internal/controller/podsession"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/sessionfeed"
)

// shared is what the controllers share beyond the manager: the API-key lookup, the projects'
// registry and create queues, the running-sessions feed, and the channel through which the
// queues and the feed wake BrowserSessions.
type shared struct {
	credentials *reconcile.Credentials
	registry    *project.Registry
	queues      *queue.Queues
	feed        *sessionfeed.Feed
	wake        chan event.GenericEvent
	kit         reconcile.Kit
}

// newShared builds the shared parts, and adds the queues and the feed to mgr as Runnables (on the
// leader only, as the controllers they wake).
func newShared(mgr manager.Manager, opts *options, bb *browserbaseClients) (*shared, error) {
	defaultKey := browserbase.Sensitive(os.Getenv("BROWSERBASE_API_KEY"))
	if defaultKey == "" {
		setupLog.Info("BROWSERBASE_API_KEY is not set: only BrowserSessions with spec.apiKeySecretRef or a project can be reconciled")
	}
	o := &opts.browserbase
	s := &shared{
		credentials: &reconcile.Credentials{Reader: mgr.GetAPIReader(), Default: defaultKey, RecheckInterval: o.credentialsRecheck},
		registry:    project.NewRegistry(),
		// Buffered: a burst of wakes (a queue's turns, many sessions ending) does not hold the
		// feed or the queue while the controller catches up.
		wake: make(chan event.GenericEvent, 4096),
		kit:  reconcile.Kit{Recorder: mgr.GetEventRecorder(operatorName), Clock: clock.RealClock{}},
	}
	wake := s.wakeSession
	s.queues = queue.New(clock.RealClock{}, wake)
	if err := mgr.Add(s.queues); err != nil {
		return nil, err
	}
	if o.sessionListInterval > 0 {
		s.feed = &sessionfeed.Feed{Browserbase: bb.sessions, Clock: clock.RealClock{}, Interval: o.sessionListInterval,
			Wake: wake, Live: s.queues.SetLive}
		if err := mgr.Add(s.feed); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// setupControllers registers every reconciler with mgr: BrowserSessions and BrowserContexts
// (which call Browserbase, sharing the key lookup and the call limit), the two project kinds
// (which check keys and feed the queues), and those of opted-in Pods and BrowserSessionTemplates,
// which make and count BrowserSessions and call no one.
func setupControllers(mgr manager.Manager, opts *options, bb *browserbaseClients, clusterID string) error {
	s, err := newShared(mgr, opts, bb)
	if err != nil {
		return err
	}
	if err := setupProjectControllers(mgr, opts, bb, s); err != nil {
		return err
	}
	o := &opts.browserbase
	sessions := &browsersession.Reconciler{
		Client:      mgr.GetClient(),
		APIReader:   mgr.GetAPIReader(),
		Browserbase: bb.sessions,
		Credentials: s.credentials,
		Projects: &project.Resolver{Reader: mgr.GetClient(), Credentials: s.credentials, Registry: s.registry,
			RecheckInterval: o.credentialsRecheck},
		Kit:                     s.kit,
		PollInterval:            o.sessionPollInterval,
		MaxConcurrentReconciles: opts.manager.maxConcurrentReconciles,
		Queue:                   s.queues,
		CreatesPerMinute:        o.createsPerMinute,
		Feed:                    s.feed,
		Wake:                    s.wake,
		CreateGracePeriod:       o.createGracePeriod,
		ClusterID:               clusterID,
		SweepInterval:           o.sweepInterval,
	}
	if s.feed != nil {
		s.feed.ClusterID, s.feed.LeakAge = clusterID, 2*o.createGracePeriod
		s.feed.Unknown = func(uid types.UID, name types.NamespacedName) {
			sessions.SweepSoon(uid)
			s.wakeSession(name)
		}
	}
	if err := sessions.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("BrowserSession controller: %w", err)
	}
	if err := (&browsercontext.Reconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Browserbase:             bb.contexts,
		Credentials:             s.credentials,
		Kit:                     s.kit,
		PollInterval:            o.contextPollInterval,
		MaxConcurrentReconciles: opts.manager.maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("BrowserContext controller: %w", err)
	}
	if err := (&podsession.Reconciler{
		Client:                  mgr.GetClient(),
		Kit:                     s.kit,
		MaxConcurrentReconciles: opts.manager.maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("podsession controller: %w", err)
	}
	if err := (&browsersessiontemplate.Reconciler{
		Client:                  mgr.GetClient(),
		Kit:                     s.kit,
		MaxConcurrentReconciles: opts.manager.maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("BrowserSessionTemplate controller: %w", err)
	}
	return nil
}

// setupProjectControllers registers the reconcilers of BrowserbaseProjects and
// ClusterBrowserbaseProjects, which share one watch of the key Secrets they name.
func setupProjectControllers(mgr manager.Manager, opts *options, bb *browserbaseClients, s *shared) error {
	mc, err := metadata.NewForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	secrets := browserbaseproject.NewSecretWatch(mc)
	if err := mgr.Add(secrets); err != nil {
		return err
	}
	for _, kind := range []string{v1alpha1.KindBrowserbaseProject, v1alpha1.KindClusterBrowserbaseProject} {
		if err := (&browserbaseproject.Reconciler{
			Client:                  mgr.GetClient(),
			Kit:                     s.kit,
			Kind:                    kind,
			Credentials:             s.credentials,
			Browserbase:             bb.projects,
			Router:                  bb.router,
			Registry:                s.registry,
			Queues:                  s.queues,
			Secrets:                 secrets,
			CreatesPerMinute:        opts.browserbase.createsPerMinute,
			MaxConcurrentReconciles: opts.manager.maxConcurrentReconciles,
		}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("%s controller: %w", kind, err)
		}
	}
	return nil
}

// wakeSession enqueues the BrowserSession name.
func (s *shared) wakeSession(name types.NamespacedName) {
	bs := &v1alpha1.BrowserSession{}
	bs.Namespace, bs.Name = name.Namespace, name.Name
	s.wake <- event.GenericEvent{Object: bs}
}
