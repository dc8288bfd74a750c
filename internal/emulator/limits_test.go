package emulator

import (
	"net/http"
	"strconv"
	"strings"
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

// The browser cap counts every browser that runs or will: a create whose answer was lost and
// that commits late (CommitLate) holds its place, and so does a browser still stopping (a create
// waits a moment for it to stop, and is refused if it does not).
func TestBrowserCapCountsLateAndStoppingBrowsers(t *testing.T) {
	t.Run("a create committed late", func(t *testing.T) {
		f := browserFixture(t, BrowserOptions{MaxBrowsers: 1})
		f.emu.SetFaults(Faults{CreateCommitThenFail: 1, CommitLate: time.Hour})
		resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
		wantError(t, resp, data, http.StatusInternalServerError)
		resp, data = f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
		if resp.StatusCode != http.StatusTooManyRequests { // no wantError: a 201 holds a signing key
			t.Fatalf("create with a late create pending: %d, want 429", resp.StatusCode)
		}
		wantError(t, resp, data, http.StatusTooManyRequests)
		if !strings.Contains(string(data), "(limit 1, currently 1)") {
			t.Errorf("429 body %s, want the late create counted", data)
		}
	})

	t.Run("a browser still stopping", func(t *testing.T) {
		f := browserFixture(t, BrowserOptions{MaxBrowsers: 1, Projects: []string{"proj-1"}})
		id := f.create(t, otherKey, map[string]any{})["id"].(string) // proj-2: no browser of its own
		stuck, exit := standInBrowser(t, "127.0.0.1:1")
		setBrowser(f, id, stuck)
		if resp, data := f.release(t, otherKey, id); resp.StatusCode != http.StatusOK {
			t.Fatalf("release: %d %s", resp.StatusCode, data)
		}
		resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("create with a browser still stopping: %d, want 429", resp.StatusCode)
		}
		wantError(t, resp, data, http.StatusTooManyRequests)
		if !strings.Contains(string(data), "(limit 1, currently 1)") {
			t.Errorf("429 body %s, want the stopping browser counted", data)
		}
		exit()
		if !eventually(func() bool {
			resp, _ := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
			return resp.StatusCode == http.StatusCreated
		}) {
			t.Error("the cap did not free once the browser had stopped")
		}
	})
}
