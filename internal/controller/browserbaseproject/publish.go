package browserbaseproject

import (
	"fmt"
	"math"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/queue"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// publish makes the project usable: its key, id and defaults go to the registry, its limits to
// its queue, and what Browserbase reported to its status.
func (r *Reconciler) publish(v view, key browserbase.Sensitive, found browserbase.Project) {
	v.status.ProjectID, v.status.ProjectName = found.ID, found.Name
	v.status.Concurrency, v.status.DefaultTimeout = int32(found.Concurrency), int32(found.DefaultTimeout)
	limits := limitsOf(v, found, r.CreatesPerMinute)
	r.Registry.Set(project.Entry{
		Ref: v.ref, Key: key, ProjectID: found.ID, Defaults: v.spec.SessionDefaults,
		DefaultTimeout: int32(found.DefaultTimeout), Shares: v.shareMap(), Limits: limits, Ready: true,
	})
	r.Queues.SetLimits(v.ref.Queue(), limits)
}

// unpublish records why the project cannot be used: sessions naming it wait with that message.
// What was published before stays in the queue, so that a key being rotated does not lose the
// sessions' places.
func (r *Reconciler) unpublish(v view, err error) {
	entry, _ := r.Registry.Get(v.ref)
	entry.Ref, entry.Ready, entry.Message = v.ref, false, err.Error()
	r.Registry.Set(entry)
}

// limitsOf are the limits the project's queue admits creates within: the lower of each budget
// and the plan's (a budget above the plan's is reported by checkBudgets, not obeyed).
func limitsOf(v view, found browserbase.Project, defaultCreatesPerMinute int) queue.Limits {
	l := queue.Limits{Concurrency: found.Concurrency, CreatesPerMinute: defaultCreatesPerMinute}
	if b := v.spec.MaxConcurrentSessions; b != nil && (l.Concurrency == 0 || int(*b) < l.Concurrency) {
		l.Concurrency = int(*b)
	}
	if b := v.spec.MaxCreatesPerMinute; b != nil {
		l.CreatesPerMinute = int(*b)
	}
	if shares := v.shareMap(); shares != nil {
		l.NamespaceShares = make(map[string]int, len(shares))
		for ns, limit := range shares {
			if limit == 0 {
				limit = math.MaxInt32
			}
			l.NamespaceShares[ns] = limit
		}
	}
	return l
}

// checkBudgets sets BudgetsValid: False, with what to change, when a budget is above what the
// plan allows. The project stays usable, under the plan's limit.
func (r *Reconciler) checkBudgets(obj object, v view, found browserbase.Project) {
	var problems []string
	if b := v.spec.MaxConcurrentSessions; b != nil && found.Concurrency > 0 && int(*b) > found.Concurrency {
		problems = append(problems, fmt.Sprintf("spec.maxConcurrentSessions (%d) is above the plan's concurrency (%d)", *b, found.Concurrency))
	}
	for _, s := range v.shares {
		if s.MaxConcurrentSessions != nil && found.Concurrency > 0 && int(*s.MaxConcurrentSessions) > found.Concurrency {
			problems = append(problems, fmt.Sprintf("the share of namespace %q (%d) is above the plan's concurrency (%d)",
				s.Namespace, *s.MaxConcurrentSessions, found.Concurrency))
		}
	}
	if len(problems) == 0 {
		reconcile.SetCondition(obj, v1alpha1.ConditionBudgetsValid, metav1.ConditionTrue, v1alpha1.ReasonBudgetsWithinPlan, "Budgets are within the plan's limits")
		return
	}
	msg := strings.Join(problems, "; ") + fmt.Sprintf(": lower it to at most %d, or upgrade the plan; until then the plan's limit applies", found.Concurrency)
	reconcile.SetCondition(obj, v1alpha1.ConditionBudgetsValid, metav1.ConditionFalse, v1alpha1.ReasonBudgetAbovePlan, msg)
}

// readyMessage says what the project is, for the Ready condition.
func readyMessage(found browserbase.Project) string {
	msg := fmt.Sprintf("Browserbase project %s accepts the key", found.ID)
	if found.Concurrency > 0 {
		msg += fmt.Sprintf("; plan concurrency %d", found.Concurrency)
	}
	return msg
}

// report copies the queue's counts into status, and says when to look again: every
// StatusInterval, so that the counts follow the queue (status is written only when they moved;
// the check against Browserbase is made again only at the refresh).
func (r *Reconciler) report(v view) time.Duration {
	st := r.Queues.Stats(v.ref.Queue())
	v.status.SessionsRunning = int32(st.Live)
	v.status.SessionsWaiting = int32(st.Waiting)
	v.status.CreatesLastMinute = int32(st.CreatesLastMinute)
	v.status.CreatesPerMinuteLimit = int32(st.CreatesPerMinute)
	return r.statusInterval()
}

func (r *Reconciler) statusInterval() time.Duration {
	if r.StatusInterval > 0 {
		return r.StatusInterval
	}
	return DefaultStatusInterval
}
