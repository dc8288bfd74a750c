// Package controllertest holds what the controllers' tests share: an event recorder that keeps
// what it is given and a fixed clock (controllertest.go), a fake client set up as the manager's
// (fake.go), the envtest control plane with a manager and a Browserbase emulator (env.go), and
// the Ginkgo suites' defaults and per-spec namespaces (ginkgo.go).
package controllertest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
)

// Event is one recorded event, its note formatted.
type Event struct{ Type, Reason, Note string }

// Events is an events.EventRecorder that keeps what it is given. The zero value is ready.
type Events struct {
	mu     sync.Mutex
	events []Event
}

var _ events.EventRecorder = (*Events)(nil)

// Eventf implements events.EventRecorder.
func (e *Events) Eventf(_ runtime.Object, _ runtime.Object, eventType, reason, _, note string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, Event{Type: eventType, Reason: reason, Note: fmt.Sprintf(note, args...)})
}

// All returns the events recorded so far, in order.
func (e *Events) All() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...)
}

// Reasons returns the reasons of the events recorded so far, in order.
func (e *Events) Reasons() []string {
	var out []string
	for _, ev := range e.All() {
		out = append(out, ev.Reason)
	}
	return out
}

// Now is where a fake clock starts: unit tests run at a fixed time, not the wall clock.
var Now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// FakeClock is a fake clock at Now.
func FakeClock() *clocktesting.FakeClock { return clocktesting.NewFakeClock(Now) }

// EnvtestAssets finds the control-plane binaries that hack/envtest-binaries.sh builds, for runs
// without KUBEBUILDER_ASSETS (an editor's test button; make test sets it): "" when it is set,
// or when none are built.
func EnvtestAssets() string {
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return ""
	}
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "share")
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "kubebuilder-envtest", "k8s", "*"))
	if len(matches) == 0 {
		return ""
	}
	return matches[len(matches)-1]
}
