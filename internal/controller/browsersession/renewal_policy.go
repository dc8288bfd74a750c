package browsersession

import (
	"hash/fnv"
	"time"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// When a session is renewed is a pure function of the spec, the session and the time, kept apart
// from making the successor (renewal_successor.go), releasing the predecessor (predecessor.go)
// and restarting consumers (restart.go), the way cert-manager splits a certificate's renewal into
// its trigger, its issuing and its readiness.

// minUsefulLife is the least use a session must have before its renewal is due.
const minUsefulLife = 20 * time.Second

// A RenewalPolicyFunc says whether bs's session, sess (nil when Browserbase no longer knows it),
// must be replaced at now, and when its successor is due by time (zero: not by time).
type RenewalPolicyFunc func(bs *v1alpha1.BrowserSession, sess *browserbase.Session, now time.Time) (due bool, at time.Time)

// NewRenewalPolicy is the operator's policy. Under spec.renewal it replaces a session that has
// ended (or that Browserbase forgot) and one whose successor's create is unfinished; under
// BeforeExpiry also one whose renewal time has come. The renewal time is renewBefore before
// expiry, but:
//   - never less than lead before it (when the session's life allows): one interrupted create
//     (a lost answer, a manager killed) costs a grace period before it is resolved, and a retry,
//     so a renewal must start early enough to survive one (lead: 2 grace periods and a margin);
//   - when jittered, spread later inside the renewal window by up to maxJitter (a tenth of the
//     window, a quarter of the use before it, and never leaving less than lead), fixed per session (a hash of its id), so that renewals due at
//     once (after an outage, or of resources made together) do not all fire in the same second,
//     and the same on every pass and every manager;
//   - never before the session has served: a successor is due no sooner than minUsefulLife
//     after its credentials went into the Secret (the first session, after it started).
func NewRenewalPolicy(lead time.Duration, jittered bool) RenewalPolicyFunc {
	return func(bs *v1alpha1.BrowserSession, sess *browserbase.Session, now time.Time) (bool, time.Time) {
		if !replacesEndedSessions(bs) {
			return false, time.Time{}
		}
		at := renewalTimeWithLead(bs, sess, lead, jittered)
		if sess == nil || sess.Status.Ended() || unfinishedCreate(bs) {
			return true, at
		}
		if at.IsZero() {
			return false, at
		}
		served, ok := servedSince(bs, sess)
		if !ok {
			return false, at // not in the Secret yet: nothing to renew
		}
		if earliest := served.Add(minUsefulLife); at.Before(earliest) {
			at = earliest
		}
		return !now.Before(at), at
	}
}

// DefaultRenewalPolicy is NewRenewalPolicy with no lead beyond renewBefore and no jitter: the
// renewal time is exactly renewBefore before expiry.
var DefaultRenewalPolicy = NewRenewalPolicy(0, false)

// maxJitter bounds how much later than renewBefore before expiry a renewal may be spread.
const maxJitter = 2 * time.Minute

// renewalPolicy is the reconciler's RenewalPolicy, or NewRenewalPolicy with a lead for one
// interrupted create.
func (r *Reconciler) renewalPolicy() RenewalPolicyFunc {
	if r.RenewalPolicy == nil {
		return NewRenewalPolicy(renewalLead(r.CreateGracePeriod), true)
	}
	return r.RenewalPolicy
}

// renewalLead is how long before its predecessor's expiry a renewal must start to survive one
// interrupted create: the grace period before it is resolved, a retry of at most as long, and
// a margin.
func renewalLead(grace time.Duration) time.Duration {
	return 2*grace + 5*time.Second
}

// servedSince is when sess's credentials went to consumers: the first session's start, a
// successor's Secret write (status.lastRotationTime); false when a successor is not there yet.
func servedSince(bs *v1alpha1.BrowserSession, sess *browserbase.Session) (time.Time, bool) {
	if bs.Status.Revision > 1 {
		if t := bs.Status.LastRotationTime; t != nil {
			return t.Time, true
		}
		return time.Time{}, false
	}
	return sess.StartedAt, true
}

// renewalTimeWithLead is renewalTime at least lead before expiry, within the session's useful
// life, with the session's jitter inside the renewal window.
func renewalTimeWithLead(bs *v1alpha1.BrowserSession, sess *browserbase.Session, lead time.Duration, jittered bool) time.Time {
	if renewalPolicy(bs) != v1alpha1.RenewalBeforeExpiry || sess == nil || sess.ExpiresAt.IsZero() {
		return time.Time{}
	}
	before, _ := renewBefore(bs, sess)
	limit := lifetime(bs, sess) - minUsefulLife
	if before < lead {
		before = min(lead, max(limit, before))
	}
	if !jittered {
		return sess.ExpiresAt.Add(-before)
	}
	// Later by up to a tenth of the window and a quarter of the use before it (maxJitter at
	// most), never leaving less than lead.
	spread := min(before/10, max(lifetime(bs, sess)-before, 0)/4, maxJitter, max(before-lead, 0))
	return sess.ExpiresAt.Add(-before + jitter(sess.ID, spread))
}

// jitter is a duration in [0, spread) fixed by id.
func jitter(id string, spread time.Duration) time.Duration {
	if spread <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(spread))
}

// leadTooLong reports whether lead does not fit in sess's useful life: one interrupted renewal
// then outlasts the predecessor.
func leadTooLong(bs *v1alpha1.BrowserSession, sess *browserbase.Session, lead time.Duration) bool {
	return renewalPolicy(bs) == v1alpha1.RenewalBeforeExpiry && lifetime(bs, sess)-minUsefulLife < lead
}

// renewalDue reports whether bs's session, sess, must be replaced now.
func (r *Reconciler) renewalDue(bs *v1alpha1.BrowserSession, sess *browserbase.Session) bool {
	due, _ := r.renewalPolicy()(bs, sess, r.Now())
	return due
}

// renewalPolicy is bs's renewal policy, Never when none is set.
func renewalPolicy(bs *v1alpha1.BrowserSession) v1alpha1.RenewalPolicy {
	if bs.Spec.Renewal == nil || bs.Spec.Renewal.Policy == "" {
		return v1alpha1.RenewalNever
	}
	return bs.Spec.Renewal.Policy
}

// replacesEndedSessions reports whether bs's session is replaced when it ends.
func replacesEndedSessions(bs *v1alpha1.BrowserSession) bool {
	return renewalPolicy(bs) != v1alpha1.RenewalNever
}

// renewBefore is how long before sess expires its successor is due, and whether spec's own value
// had to give way to the default because it would leave sess no useful life.
func renewBefore(bs *v1alpha1.BrowserSession, sess *browserbase.Session) (before time.Duration, specTooLong bool) {
	lifetime := lifetime(bs, sess)
	fallback := lifetime / 3
	if r := bs.Spec.Renewal; r != nil && r.RenewBefore != nil {
		if r.RenewBefore.Duration+minUsefulLife <= lifetime {
			return r.RenewBefore.Duration, false
		}
		return fallback, true
	}
	return fallback, false
}

// lifetime is how long sess lives: from its start to its expiry, else spec's timeout, else the
// longest Browserbase allows.
func lifetime(bs *v1alpha1.BrowserSession, sess *browserbase.Session) time.Duration {
	life := sess.ExpiresAt.Sub(sess.StartedAt)
	if sess.StartedAt.IsZero() || life <= 0 {
		life = maxSessionLifetime
		if t := bs.Spec.Timeout; t != nil {
			life = time.Duration(*t) * time.Second
		}
	}
	return life
}

// renewalTime is when sess's successor is due under policy BeforeExpiry; zero for other policies.
func renewalTime(bs *v1alpha1.BrowserSession, sess *browserbase.Session) time.Time {
	if renewalPolicy(bs) != v1alpha1.RenewalBeforeExpiry || sess == nil || sess.ExpiresAt.IsZero() {
		return time.Time{}
	}
	before, _ := renewBefore(bs, sess)
	return sess.ExpiresAt.Add(-before)
}
