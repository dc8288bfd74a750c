package emulator

import (
	"net/http"
	"testing"
	"time"
)

func TestPendingSessions(t *testing.T) {
	const pendingFor = 5 * time.Second
	status := func(t *testing.T, f *fixture, id string) string {
		t.Helper()
		_, data := f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
		return object(t, data)["status"].(string)
	}
	tests := []struct {
		name string
		// act runs after the create, before the wait is over.
		act       func(t *testing.T, f *fixture, id string)
		timeout   int
		wantAfter string // status once pendingFor has passed
	}{
		{name: "becomes RUNNING", act: func(*testing.T, *fixture, string) {}, wantAfter: "RUNNING"},
		{name: "released while pending", act: func(t *testing.T, f *fixture, id string) {
			if _, data := f.release(t, testKey, id); object(t, data)["status"] != "COMPLETED" {
				t.Errorf("release of a PENDING session: %s, want COMPLETED", data)
			}
		}, wantAfter: "COMPLETED"},
		{name: "forced PENDING stays PENDING", act: func(_ *testing.T, f *fixture, id string) {
			f.emu.SetSessionStatus(id, "PENDING")
		}, wantAfter: "PENDING"},
		{name: "forced ERROR stays ERROR", act: func(_ *testing.T, f *fixture, id string) {
			f.emu.SetSessionStatus(id, "ERROR")
		}, wantAfter: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Project{}, true)
			f.emu.SetPendingFor(pendingFor)
			created := f.create(t, testKey, nil)
			id := created["id"].(string)
			if created["status"] != "PENDING" {
				t.Fatalf("create answered status %v, want PENDING", created["status"])
			}
			f.clk.Advance(pendingFor - time.Second)
			if got := status(t, f, id); got != "PENDING" {
				t.Fatalf("status %s a second before the wait is over, want PENDING", got)
			}
			tt.act(t, f, id)
			f.clk.Advance(time.Second)
			if got := status(t, f, id); got != tt.wantAfter {
				t.Errorf("status %s once the wait is over, want %s", got, tt.wantAfter)
			}
		})
	}

	t.Run("RUNNING is stamped when the wait ended, and is listed", func(t *testing.T) {
		f := newFixture(t, Project{}, true)
		f.emu.SetPendingFor(pendingFor)
		created := f.create(t, testKey, nil)
		id := created["id"].(string)
		f.clk.Advance(time.Minute)
		_, data := f.call(t, http.MethodGet, "/v1/sessions?status=RUNNING", testKey, nil)
		items := array(t, data)
		if len(items) != 1 || items[0]["id"] != id {
			t.Fatalf("RUNNING sessions = %v, want %s", items, id)
		}
		want := parseTime(t, created["createdAt"]).Add(pendingFor)
		if got := parseTime(t, items[0]["updatedAt"]); !got.Equal(want) {
			t.Errorf("updatedAt = %v, want %v (when the wait ended)", got, want)
		}
	})

	t.Run("a wait longer than the timeout ends TIMED_OUT", func(t *testing.T) {
		f := newFixture(t, Project{}, true)
		f.emu.SetPendingFor(2 * time.Minute)
		created := f.create(t, testKey, map[string]any{"timeout": 60})
		f.clk.Advance(3 * time.Minute)
		s, _ := f.emu.Session(created["id"].(string))
		if s.Status != "TIMED_OUT" || s.EndedAt == nil || !s.EndedAt.Equal(parseTime(t, created["expiresAt"])) {
			t.Errorf("status %s endedAt %v, want TIMED_OUT at expiresAt %v", s.Status, s.EndedAt, created["expiresAt"])
		}
	})

	t.Run("pending sessions count against concurrency", func(t *testing.T) {
		f := newFixture(t, Project{Concurrency: 1}, true)
		f.emu.SetPendingFor(pendingFor)
		f.create(t, testKey, nil)
		resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
		wantError(t, resp, data, http.StatusTooManyRequests)
	})

	t.Run("SetPendingFor(0) starts new sessions RUNNING again", func(t *testing.T) {
		f := newFixture(t, Project{}, true)
		f.emu.SetPendingFor(time.Hour)
		first := f.create(t, testKey, nil)["id"].(string)
		f.emu.SetPendingFor(0)
		if got := f.create(t, testKey, nil)["status"]; got != "RUNNING" {
			t.Errorf("create after SetPendingFor(0): status %v, want RUNNING", got)
		}
		if got := status(t, f, first); got != "PENDING" {
			t.Errorf("the earlier session is %s, want still PENDING: its wait was set at create", got)
		}
	})
}

func TestConcurrencyRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		set  *time.Duration // nil: the default
		want string         // "" for no header
	}{
		{name: "default", want: "60"},
		{name: "30 s", set: new(30 * time.Second), want: "30"},
		{name: "rounded up", set: new(1500 * time.Millisecond), want: "2"},
		{name: "zero sends none", set: new(time.Duration(0)), want: ""},
		{name: "negative sends none", set: new(-time.Second), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Project{Concurrency: 1}, true)
			if tt.set != nil {
				f.emu.SetConcurrencyRetryAfter(*tt.set)
			}
			f.create(t, testKey, nil)
			resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
			wantError(t, resp, data, http.StatusTooManyRequests)
			got, present := resp.Header["Retry-After"]
			switch {
			case tt.want == "" && present:
				t.Errorf("Retry-After = %q, want no header", got)
			case tt.want != "" && resp.Header.Get("Retry-After") != tt.want:
				t.Errorf("Retry-After = %q, want %q", resp.Header.Get("Retry-After"), tt.want)
			}
		})
	}

	// The creation-rate 429 keeps its Retry-After whatever the concurrency setting.
	f := newFixture(t, Project{CreatesPerMinute: 1}, true)
	f.emu.SetConcurrencyRetryAfter(0)
	f.create(t, testKey, nil)
	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
	wantError(t, resp, data, http.StatusTooManyRequests)
	if secs := retryAfter(t, resp); secs < 1 || secs > 61 {
		t.Errorf("creation-rate Retry-After = %d, want within [1, 61]", secs)
	}
}
