package browsersession

import (
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

// DefaultRenewalPolicy replaces, under spec.renewal, a session that has ended (or that Browserbase
// forgot) and one whose successor's create is unfinished, and, under BeforeExpiry, one whose
// renewal time has come.
func DefaultRenewalPolicy(bs *v1alpha1.BrowserSession, sess *browserbase.Session, now time.Time) (bool, time.Time) {
	if !replacesEndedSessions(bs) {
		return false, time.Time{}
	}
	at := renewalTime(bs, sess)
	if sess == nil || sess.Status.Ended() || unfinishedCreate(bs) {
		return true, at
	}
	return !at.IsZero() && !now.Before(at), at
}

// renewalPolicy is the reconciler's RenewalPolicy, or the default.
func (r *Reconciler) renewalPolicy() RenewalPolicyFunc {
	if r.RenewalPolicy == nil {
		return DefaultRenewalPolicy
	}
	return r.RenewalPolicy
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
	lifetime := sess.ExpiresAt.Sub(sess.StartedAt)
	if sess.StartedAt.IsZero() || lifetime <= 0 {
		lifetime = maxSessionLifetime
		if t := bs.Spec.Timeout; t != nil {
			lifetime = time.Duration(*t) * time.Second
		}
	}
	fallback := lifetime / 3
	if r := bs.Spec.Renewal; r != nil && r.RenewBefore != nil {
		if r.RenewBefore.Duration+minUsefulLife <= lifetime {
			return r.RenewBefore.Duration, false
		}
		return fallback, true
	}
	return fallback, false
}

// renewalTime is when sess's successor is due under policy BeforeExpiry; zero for other policies.
func renewalTime(bs *v1alpha1.BrowserSession, sess *browserbase.Session) time.Time {
	if renewalPolicy(bs) != v1alpha1.RenewalBeforeExpiry || sess == nil || sess.ExpiresAt.IsZero() {
		return time.Time{}
	}
	before, _ := renewBefore(bs, sess)
	return sess.ExpiresAt.Add(-before)
}
