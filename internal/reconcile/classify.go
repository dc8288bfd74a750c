package reconcile

import (
	"fmt"
	"time"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// Classify turns a Browserbase error into the outcome it calls for: a rejected key or request
// stalls (retrying would only repeat the refusal and spend the user's quota), a rate limit waits
// as long as Browserbase asks, anything else is transient. keySource names where the API key
// came from (see KeySource), action what was being done ("create the Browserbase session").
func Classify(keySource, action string, err error) error {
	switch {
	case browserbase.IsUnauthorized(err):
		return Stalled(v1alpha1.ReasonCredentialsRejected,
			"Browserbase rejected the API key from %s: %v. Put a valid key there, then annotate the resource to retry",
			keySource, err)
	case browserbase.IsRateLimited(err):
		after := browserbase.RetryAfter(err)
		if after <= 0 {
			// A creation-rate limit clears within its 60 s window; a concurrency limit only when
			// another session ends. Without a hint, one window is the shortest sensible wait.
			after = time.Minute
		}
		// Resources rate-limited together must not all come back together.
		after = Jitter(after)
		if browserbase.IsConcurrencyLimit(err) {
			return Wait(v1alpha1.ReasonConcurrencyLimitReached, after,
				"The Browserbase project is at its concurrent-session limit; trying again when Browserbase's Retry-After has passed: %v", err)
		}
		return Wait(v1alpha1.ReasonRateLimited, after,
			"Browserbase's session-creation rate limit is reached; trying again when its Retry-After has passed: %v", err)
	case browserbase.IsRejected(err):
		return Stalled(v1alpha1.ReasonRequestRejected,
			"Browserbase refused to %s: %v. Re-create the resource with a spec Browserbase accepts", action, err)
	default:
		return fmt.Errorf("could not %s: %w", action, err)
	}
}

// ClassifyRead is Classify for calls that change nothing (a status poll, a lookup): their
// failures say nothing about the resource's session, so they never read as a create problem.
// A rejected key stalls, but is looked at again after recheck, since a poll costs no session;
// a rate limit waits as asked, keeping a Ready resource Ready; any other refusal or failure is
// transient and backs off.
func ClassifyRead(keySource, action string, err error, recheck time.Duration) error {
	switch {
	case browserbase.IsUnauthorized(err):
		return &StallError{
			Reason: v1alpha1.ReasonCredentialsRejected,
			Message: fmt.Sprintf("Browserbase rejected the API key from %s when asked to %s: %v. Put a valid key there; "+
				"the operator tries again every %s", keySource, action, err, recheck),
			Recheck: recheck,
		}
	case browserbase.IsRateLimited(err):
		after := browserbase.RetryAfter(err)
		if after <= 0 {
			after = time.Minute
		}
		return &WaitError{
			Reason:    v1alpha1.ReasonRateLimited,
			Message:   fmt.Sprintf("Browserbase asked to slow down when asked to %s; trying again when its Retry-After has passed: %v", action, err),
			After:     Jitter(after),
			KeepReady: true,
		}
	default:
		return fmt.Errorf("could not %s: %w", action, err)
	}
}
