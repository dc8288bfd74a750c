package browsersession

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// Every session carries this resource's UID, the token of the create attempt that made it, and
// the cluster's identity in userMetadata. A session that is live, tagged with this resource, and
// not status.id is a leak: a create Browserbase committed after its answer was lost, or after
// the list was trusted; a session made by a second manager that lost the race to record it. The
// sweep finds them by UID and by token (the token survives a restore from backup, the UID does
// not) and releases them. It runs when a create is resolved, on delete, soon after a create that
// followed an unfinished one, and every SweepInterval for each resource (with the session feed:
// when its list shows a session of the resource that the resource does not hold), so leaks heal
// by themselves.

// taggedSessions lists the live sessions of this cluster tagged with bs: with its UID, or with
// the token of its last create attempt.
func (r *Reconciler) taggedSessions(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) ([]browserbase.Session, error) {
	var queries []string
	if bs.UID != "" {
		if q, ok := browserbase.MetadataQuery(string(bs.UID), v1alpha1.ReservedMetadataKey, "uid"); ok {
			queries = append(queries, q)
		}
	}
	if token := createAttempt(bs); token != "" {
		q, ok := browserbase.MetadataQuery(token, v1alpha1.ReservedMetadataKey, "attempt")
		if !ok {
			return nil, reconcile.Stalled(v1alpha1.ReasonCreateOutcomeUnknown,
				"annotation %s holds %q, which cannot be searched for; a session the create attempt made may be running. "+
					"Check Browserbase for sessions tagged with this resource, then remove the annotation to create anew",
				v1alpha1.AnnotationCreateAttempt, token)
		}
		queries = append(queries, q)
	}
	seen := map[string]bool{}
	var live []browserbase.Session
	for _, q := range queries {
		all, err := r.Browserbase.ListSessions(ctx, apiKey, browserbase.ListOptions{Query: q})
		if err != nil {
			return nil, fmt.Errorf("listing the sessions of this resource: %w", err)
		}
		for _, s := range all {
			// Ended ones are history, not leaks; another cluster's are not this operator's to touch.
			if s.Status.Ended() || seen[s.ID] || !r.ofThisCluster(s) {
				continue
			}
			seen[s.ID] = true
			live = append(live, s)
		}
	}
	return live, nil
}

// ofThisCluster reports whether s was made by an operator of this cluster: a restore into a
// standby cluster that shares the Browserbase project must not adopt or release production's
// sessions. Sessions without the tag come from operators older than it, and count as ours.
func (r *Reconciler) ofThisCluster(s browserbase.Session) bool {
	tag, _ := s.UserMetadata[v1alpha1.ReservedMetadataKey].(map[string]any)
	cluster, tagged := tag["cluster"].(string)
	return !tagged || cluster == r.ClusterID
}

// storedCredentials returns a function that tells which session the credentials in bs's Secret
// belong to ("" when the Secret has none), reading the Secret once, on first use.
func (r *Reconciler) storedCredentials(ctx context.Context, bs *v1alpha1.BrowserSession) func() string {
	return sync.OnceValue(func() string {
		secret := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: bs.Namespace, Name: secretName(bs)}, secret); err != nil {
			return ""
		}
		if len(secret.Data[SecretKeyConnectURL]) == 0 || len(secret.Data[SecretKeySigningKey]) == 0 {
			return ""
		}
		return string(secret.Data[SecretKeySessionID])
	})
}

// sweepLeaks releases the live sessions tagged with bs other than its own, when a sweep of bs
// is due, and no successor's create is unfinished (its session is resolved by renewSession). A
// failed sweep is logged and tried again at the next pass: it never makes a usable session look
// unusable.
func (r *Reconciler) sweepLeaks(ctx context.Context, bs *v1alpha1.BrowserSession, apiKey browserbase.Sensitive) {
	now := r.Now()
	if unfinishedCreate(bs) || !r.sweeps.due(bs.UID, now, r.sweepInterval()) {
		return
	}
	live, err := r.taggedSessions(ctx, bs, apiKey)
	if err == nil {
		for _, s := range live {
			if s.ID == bs.Status.ID || s.ID == bs.Status.PreviousID {
				continue // the predecessor of a renewal is released when its overlap is over
			}
			if err = r.releaseSession(ctx, bs, apiKey, s.ID, releasedAsLeftover("Sweep", "not the session recorded in status.id")); err != nil {
				break
			}
		}
	}
	if err != nil {
		log.FromContext(ctx).Error(err, "Could not sweep the sessions tagged with this resource; trying again at the next pass")
		return
	}
	r.sweeps.done(bs.UID, now, r.sweepInterval())
}

// sweepInterval is SweepInterval, or 0 (no periodic sweep) with a feed: its list finds the
// sessions a resource does not hold, and asks for that resource's sweep (SweepSoon), so that
// sweeps cost nothing while there is nothing to sweep.
func (r *Reconciler) sweepInterval() time.Duration {
	if r.Feed != nil {
		return 0
	}
	return r.SweepInterval
}

// sweepSchedule says, per resource, when its next sweep is due. It lives in memory: after a
// restart every resource gets its first sweep at a random point of the first interval, so a
// thousand resources do not all list at once.
type sweepSchedule struct {
	reconcile.ByUID[time.Time]
}

// due reports whether a sweep of uid is due at now. interval 0 turns periodic sweeps off; sweeps
// asked for with soon still run.
func (s *sweepSchedule) due(uid types.UID, now time.Time, interval time.Duration) bool {
	due := false
	s.Update(uid, func(next time.Time, ok bool) (time.Time, bool) {
		if !ok {
			if interval <= 0 {
				return next, false
			}
			next = now.Add(rand.N(interval))
		}
		due = !now.Before(next)
		return next, true
	})
	return due
}

// done records a sweep of uid at now.
func (s *sweepSchedule) done(uid types.UID, now time.Time, interval time.Duration) {
	s.Update(uid, func(time.Time, bool) (time.Time, bool) { return now.Add(interval), interval > 0 })
}

// soon asks for a sweep of uid at or before at.
func (s *sweepSchedule) soon(uid types.UID, at time.Time) {
	s.Update(uid, func(next time.Time, ok bool) (time.Time, bool) {
		if ok && !at.Before(next) {
			return next, true
		}
		return at, true
	})
}

// nextSweepIn is how long until uid's next sweep, if one is scheduled.
func (s *sweepSchedule) nextSweepIn(uid types.UID, now time.Time) (time.Duration, bool) {
	next, ok := s.Get(uid)
	return next.Sub(now), ok
}
