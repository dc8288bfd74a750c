package controller

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
)

// A CreateGate spaces create calls per API key, for every BrowserSession using that key at once:
// a token bucket keeps creates under the project's per-minute creation limit, and a 429 closes
// the gate until Browserbase's Retry-After has passed, so a thousand waiting resources do not
// each rediscover the limit. Waits are jittered so that they do not all come back together.
type CreateGate struct {
	perMinute float64
	burst     int

	mu   sync.Mutex
	keys map[[sha256.Size]byte]*keyGate // by key hash: the gate never holds the key itself
}

type keyGate struct {
	bucket      *rate.Limiter
	closedUntil time.Time
	closedBy    *waitError // the 429 that closed the gate, reported to everyone waiting on it
}

// NewCreateGate allows perMinute creates per API key, in bursts of up to burst. perMinute 0
// turns the bucket off; 429s still close the gate.
func NewCreateGate(perMinute float64, burst int) *CreateGate {
	return &CreateGate{perMinute: perMinute, burst: max(burst, 1), keys: map[[sha256.Size]byte]*keyGate{}}
}

func (g *CreateGate) gate(key browserbase.Sensitive) *keyGate {
	h := sha256.Sum256([]byte(key.Reveal()))
	kg, ok := g.keys[h]
	if !ok {
		limit := rate.Inf
		if g.perMinute > 0 {
			limit = rate.Limit(g.perMinute / 60)
		}
		kg = &keyGate{bucket: rate.NewLimiter(limit, g.burst)}
		g.keys[h] = kg
	}
	return kg
}

// admit takes a create slot for the key, or returns the wait before asking again.
func (g *CreateGate) admit(key browserbase.Sensitive) *waitError {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	kg := g.gate(key)
	if wait := kg.closedUntil.Sub(now); wait > 0 {
		return &waitError{reason: kg.closedBy.reason, message: kg.closedBy.message, after: jitter(wait)}
	}
	r := kg.bucket.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return &waitError{
			reason:  v1alpha1.ReasonRateLimited,
			message: fmt.Sprintf("Spacing creates to at most %g per minute for this API key (--creates-per-minute)", g.perMinute),
			after:   jitter(d),
		}
	}
	return nil
}

// close holds every create with the key for the wait of a 429's outcome.
func (g *CreateGate) close(key browserbase.Sensitive, limited *waitError) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	kg := g.gate(key)
	if until := time.Now().Add(limited.after); until.After(kg.closedUntil) {
		kg.closedUntil, kg.closedBy = until, limited
	}
}

// jitter spreads a wait over up to 20% more, and never returns less than a second.
func jitter(d time.Duration) time.Duration {
	return max(wait.Jitter(d, 0.2), time.Second)
}
