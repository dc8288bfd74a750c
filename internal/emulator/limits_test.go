package emulator

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// retryAfter returns the answer's Retry-After in seconds.
func retryAfter(t *testing.T, resp *http.Response) int {
	t.Helper()
	v := resp.Header.Get("Retry-After")
	secs, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("Retry-After = %q, want delay-seconds", v)
	}
	return secs
}

func TestConcurrencyLimit(t *testing.T) {
	f := newFixture(t, Project{Concurrency: 2}, false)
	first := f.create(t, testKey, nil)["id"].(string)
	second := f.create(t, testKey, nil)["id"].(string)

	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
	wantError(t, resp, data, http.StatusTooManyRequests)
	if secs := retryAfter(t, resp); secs <= 0 {
		t.Errorf("Retry-After = %d, want > 0", secs)
	}
	if n := len(f.emu.Sessions()); n != 2 {
		t.Errorf("Sessions() = %d sessions after a refused create, want 2", n)
	}

	// Another project's sessions do not count.
	f.create(t, otherKey, nil)

	// An ended session frees its slot: released or timed out.
	if resp, data := f.release(t, testKey, first); resp.StatusCode != http.StatusOK {
		t.Fatalf("release: status %d: %s", resp.StatusCode, data)
	}
	third := f.create(t, testKey, nil)["id"].(string)
	resp, data = f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
	wantError(t, resp, data, http.StatusTooManyRequests)

	if !f.emu.ExpireSession(second) {
		t.Fatal("ExpireSession() = false")
	}
	f.create(t, testKey, nil)
	if !f.emu.SetSessionStatus(third, "ERROR") {
		t.Fatal("SetSessionStatus() = false")
	}
	f.create(t, testKey, nil)
	resp, data = f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
	wantError(t, resp, data, http.StatusTooManyRequests)
}

func TestCreatesPerMinuteLimit(t *testing.T) {
	f := newFixture(t, Project{CreatesPerMinute: 2}, true)
	for range 2 {
		id := f.create(t, testKey, nil)["id"].(string)
		f.release(t, testKey, id) // the limit counts creates, not live sessions
		f.clk.Advance(10 * time.Second)
	}

	// The first create was 20 s ago: it leaves the window in 40 s.
	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
	wantError(t, resp, data, http.StatusTooManyRequests)
	if secs := retryAfter(t, resp); secs < 40 || secs > 41 {
		t.Errorf("Retry-After = %d, want 40 or 41", secs)
	}
	if n := len(f.emu.Sessions()); n != 2 {
		t.Errorf("Sessions() = %d sessions after a refused create, want 2", n)
	}

	// Another project has its own budget.
	f.create(t, otherKey, nil)

	// Once the first create leaves the window, one more create fits, and no more.
	f.clk.Advance(40 * time.Second)
	f.create(t, testKey, nil)
	resp, data = f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
	wantError(t, resp, data, http.StatusTooManyRequests)
	if secs := retryAfter(t, resp); secs < 1 || secs > 61 {
		t.Errorf("Retry-After = %d, want within [1, 61]", secs)
	}
}
