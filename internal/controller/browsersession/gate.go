package browsersession

import (
	"crypto/sha256"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/clock"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// A CreateGate spaces create calls per API key, for every BrowserSession using that key at once:
// a token bucket keeps creates under the project's per-minute creation limit, and a 429 closes
// the gate until Browserbase's Retry-After has passed, so a thousand waiting resources do not
// each rediscover the limit. Waits are jittered so that they do not all come back together.
type CreateGate struct {
	clock     clock.PassiveClock
	perMinute float64
	burst     int

	mu   sync.Mutex
	keys map[[sha256.Size]byte]*keyGate // by key hash: the gate never holds the key itself
}

type keyGate struct {
	bucket      *rate.Limiter
	closedUntil time.Time
	closedBy    *reconcile.WaitError // the 429 that closed the gate, reported to everyone waiting on it
}

// NewCreateGate allows perMinute creates per API key, in bursts of up to burst, by clk's time.
// perMinute 0 turns the bucket off; 429s still close the gate.
func NewCreateGate(clk clock.PassiveClock, perMinute float64, burst int) *CreateGate {
	return &CreateGate{clock: clk, perMinute: perMinute, burst: max(burst, 1), keys: map[[sha256.Size]byte]*keyGate{}}
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

// admit takes a create slot for the key, or returns the wait before asking again. A renewal
// (its predecessor expires on its own schedule, and its consumers lose their browser then) goes
// before first sessions: it takes the next slot even when none is free yet, so that the creates
// waiting behind it wait longer instead. A gate closed by a 429 holds renewals too: Browserbase
// would refuse them.
func (g *CreateGate) admit(key browserbase.Sensitive, renewal bool) *reconcile.WaitError {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	kg := g.gate(key)
	if wait := kg.closedUntil.Sub(now); wait > 0 {
		return &reconcile.WaitError{Reason: kg.closedBy.Reason, Message: kg.closedBy.Message, After: reconcile.Jitter(wait)}
	}
	r := kg.bucket.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 && !renewal {
		r.CancelAt(now)
		return reconcile.Wait(v1alpha1.ReasonRateLimited, reconcile.Jitter(d),
			"Spacing creates to at most %g per minute for this API key (--creates-per-minute)", g.perMinute)
	}
	return nil
}

// close holds every create with the key for the wait of a 429's outcome.
func (g *CreateGate) close(key browserbase.Sensitive, limited *reconcile.WaitError) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	kg := g.gate(key)
	if until := g.clock.Now().Add(limited.After); until.After(kg.closedUntil) {
		kg.closedUntil, kg.closedBy = until, limited
	}
}
