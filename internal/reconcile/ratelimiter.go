package reconcile

import (
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// NewRateLimiter is the workqueue backoff for controllers that call Browserbase: errors back off
// from 1 s to 5 min per resource, jittered, and all retries together stay under 10 per second.
// controller-runtime's default starts at 5 ms, which would hammer Browserbase.
func NewRateLimiter() workqueue.TypedRateLimiter[ctrlreconcile.Request] {
	return jitteredRateLimiter{workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[ctrlreconcile.Request](time.Second, 5*time.Minute),
		&workqueue.TypedBucketRateLimiter[ctrlreconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)}
}

// jitteredRateLimiter adds up to 20% to each backoff, so resources that failed together (an
// outage of Browserbase) do not all retry together.
type jitteredRateLimiter struct {
	workqueue.TypedRateLimiter[ctrlreconcile.Request]
}

func (j jitteredRateLimiter) When(item ctrlreconcile.Request) time.Duration {
	return wait.Jitter(j.TypedRateLimiter.When(item), 0.2)
}

// ControllerOptions are the options every controller of the operator runs with: at most
// maxConcurrent reconciles at once, and NewRateLimiter's backoff.
func ControllerOptions(maxConcurrent int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: maxConcurrent, RateLimiter: NewRateLimiter()}
}
