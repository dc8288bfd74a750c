package browsersession

import (
	"context"
	"errors"
	"time"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// sessionID is the recorded Browserbase session id of bs.
func sessionID(bs *v1alpha1.BrowserSession) string {
	return bs.Status.ID
}

// observeSession reads the session: from the feed's last list while it shows the session
// running (no call), else from Browserbase, which is what a session that ended or is starting
// costs.
func (r *Reconciler) observeSession(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error) {
	if listed, ok := r.Feed.Lookup(apiKey, id); ok && listed != nil {
		return listed, nil
	}
	sess, err := r.Browserbase.GetSession(ctx, apiKey, id)
	if browserbase.IsNotFound(err) {
		return nil, reconcile.Stalled(v1alpha1.ReasonSessionNotFound,
			"Browserbase has no session %s (recorded in status.id) for this API key; delete and re-create the BrowserSession to start a new one",
			id)
	}
	if err != nil {
		return nil, r.classifyRead(bs, "read the Browserbase session", err)
	}
	return sess, nil
}

// observeCurrent reads bs's session, id, from Browserbase: nil when spec.renewal replaces it
// because it has ended (status says so, and then no call is made) or Browserbase no longer knows it.
func (r *Reconciler) observeCurrent(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error) {
	if replacesEndedSessions(bs) && browserbase.SessionStatus(bs.Status.SessionStatus).Ended() {
		return nil, nil
	}
	sess, err := r.observeSession(ctx, bs, apiKey, id)
	if stall, ok := errors.AsType[*reconcile.StallError](err); ok && stall.Reason == v1alpha1.ReasonSessionNotFound && replacesEndedSessions(bs) {
		return nil, nil
	}
	return sess, err
}

// classify is reconcile.Classify for a call that changes something (a create, a release) with
// bs's API key.
func classify(bs *v1alpha1.BrowserSession, action string, err error) error {
	return reconcile.Classify(reconcile.KeySource(bs.Spec.APIKeySecretRef), action, err)
}

// classifyRead is reconcile.ClassifyRead for a read (a poll, a list) with bs's API key. A
// rejected key is looked at again at the poll interval.
func (r *Reconciler) classifyRead(bs *v1alpha1.BrowserSession, action string, err error) error {
	return reconcile.ClassifyRead(reconcile.KeySource(bs.Spec.APIKeySecretRef), action, err, max(r.PollInterval, time.Second))
}
