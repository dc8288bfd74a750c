package reconcile

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// A StallError is a problem that retrying cannot fix: a person must change something first. It
// becomes Stalled=True and Ready=False, and the reconcile ends without an error, so the
// workqueue does not back off and retry it.
type StallError struct {
	Reason  string
	Message string
	// Recheck, when set, looks again after this long. It is only for conditions that no watch
	// reports (a Secret the operator does not cache appearing) and whose check makes no
	// Browserbase call, so it costs nothing against the user's API quota.
	Recheck time.Duration
}

func (e *StallError) Error() string { return e.Message }

// Stalled returns a StallError with a formatted message.
func Stalled(reason, format string, args ...any) *StallError {
	return &StallError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// A DoneError ends a pass on a resource that has reached an end that is not a failure, the way
// a Kubernetes Job completes: a session whose clients disconnected. It becomes Ready=False with
// its reason, neither Reconciling nor Stalled (never kstatus Failed; Argo CD Healthy), and no requeue.
type DoneError struct {
	Reason  string
	Message string
}

func (e *DoneError) Error() string { return e.Message }

// Done returns a DoneError with a formatted message.
func Done(reason, format string, args ...any) *DoneError {
	return &DoneError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// A WaitError is a wait for something outside anyone's control, such as a rate limit that
// clears on its own. It becomes Reconciling=True and Ready=False, and a requeue after the wait.
type WaitError struct {
	Reason  string
	Message string
	After   time.Duration
	// KeepReady leaves a Ready resource's conditions as they are: the wait is the operator's
	// (a poll that was rate limited), not the workload's, whose session is still usable.
	KeepReady bool
}

func (e *WaitError) Error() string { return e.Message }

// Wait returns a WaitError with a formatted message.
func Wait(reason string, after time.Duration, format string, args ...any) *WaitError {
	return &WaitError{Reason: reason, Message: fmt.Sprintf(format, args...), After: after}
}

// Jitter spreads a wait over up to 20% more, and never returns less than a second, so that
// resources that wait together do not all come back together.
func Jitter(d time.Duration) time.Duration {
	return max(wait.Jitter(d, 0.2), time.Second)
}
