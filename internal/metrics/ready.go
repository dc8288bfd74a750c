package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// SessionReady is the time from a BrowserSession's creation to its first Ready: what its user
// waits, queue included.
var SessionReady = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "browserbase_session_ready_seconds",
	Help:    "Seconds from a BrowserSession's creation to its first Ready (queue wait, create and start).",
	Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600},
})

func init() {
	ctrlmetrics.Registry.MustRegister(SessionReady)
}

// ObserveReady records a BrowserSession that became Ready for the first time, took after its creation.
func ObserveReady(took time.Duration) { SessionReady.Observe(took.Seconds()) }
