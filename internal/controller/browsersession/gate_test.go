package browsersession

import (
	"testing"
	"time"

	"github.com/browserbase/session-operator/internal/reconcile"
)

// Renewals go before first sessions at the create gate: with the bucket empty, a renewal still
// gets the next slot, and the first sessions waiting behind it wait longer; a 429 holds all.
func TestCreateGateLetsRenewalsFirst(t *testing.T) {
	clk := newFakeClock()
	g := NewCreateGate(clk, 6, 1) // one create every 10 s
	if w := g.admit("key", false); w != nil {
		t.Fatalf("first create held: %v", w)
	}
	first := g.admit("key", false)
	if first == nil {
		t.Fatal("a second first-session create passed an empty bucket")
	}
	if w := g.admit("key", true); w != nil {
		t.Fatalf("a renewal waits behind first sessions: %v", w)
	}
	behind := g.admit("key", false)
	if behind == nil || behind.After <= first.After {
		t.Fatalf("a first session after the renewal waits %v, want longer than %v", behind, first.After)
	}
	g.close("key", reconcile.Wait("ConcurrencyLimitReached", time.Minute, "429"))
	if w := g.admit("key", true); w == nil {
		t.Fatal("a renewal passed a gate closed by a 429")
	}
}
