package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultCreateCommitThenFail(t *testing.T) {
	f := newFixture(t, Project{}, false)
	f.emu.SetFaults(Faults{CreateCommitThenFail: 1})

	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, map[string]any{"userMetadata": map[string]any{"n": "1"}})
	wantError(t, resp, data, http.StatusInternalServerError)
	sessions := f.emu.Sessions()
	if len(sessions) != 1 || sessions[0].Status != "RUNNING" || sessions[0].UserMetadata["n"] != "1" {
		t.Fatalf("Sessions() = %+v, want the committed session", sessions)
	}

	// The fault is spent: the next create answers normally.
	f.create(t, testKey, nil)
	if n := len(f.emu.Sessions()); n != 2 {
		t.Errorf("Sessions() = %d sessions, want 2", n)
	}
}

func TestFaultCreateCommitThenDrop(t *testing.T) {
	f := newFixture(t, Project{}, false)
	f.emu.SetFaults(Faults{CreateCommitThenDrop: 1})

	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/v1/sessions", strings.NewReader(`{"userMetadata":{"n":"1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-BB-API-Key", testKey)
	resp, err := f.srv.Client().Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("create with CreateCommitThenDrop: got an answer (status %d), want a transport error", resp.StatusCode)
	}

	sessions := f.emu.Sessions()
	if len(sessions) != 1 || sessions[0].UserMetadata["n"] != "1" {
		t.Fatalf("Sessions() = %+v, want the committed session", sessions)
	}
	// The emulator records a call after its handler returns, which for a dropped connection is
	// after the client has seen the error: wait for the record.
	if !eventually(func() bool { return f.emu.CountRequests(http.MethodPost, "/v1/sessions") > 0 }) {
		t.Fatal("the dropped create was never recorded")
	}
	if n := f.emu.CountRequests(http.MethodPost, "/v1/sessions"); n != 1 {
		t.Errorf("CountRequests(POST) = %d, want 1", n)
	}
	reqs := f.emu.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 0 || last.ProjectID != "proj-1" {
		t.Errorf("dropped request recorded with status %d project %q, want 0 proj-1", last.Status, last.ProjectID)
	}

	f.create(t, testKey, nil)
	if n := len(f.emu.Sessions()); n != 2 {
		t.Errorf("Sessions() = %d sessions, want 2", n)
	}
}

func TestFaultErrorRate(t *testing.T) {
	f := newFixture(t, Project{}, false)
	f.emu.SetFaults(Faults{ErrorRate: 1})
	for range 3 {
		resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
		wantError(t, resp, data, http.StatusInternalServerError)
	}
	if n := len(f.emu.Sessions()); n != 0 {
		t.Errorf("Sessions() = %d sessions, want none: an ErrorRate 500 does nothing", n)
	}
	f.emu.SetFaults(Faults{})
	f.create(t, testKey, nil)
}

func TestFaultLatency(t *testing.T) {
	f := newFixture(t, Project{}, false)
	f.emu.SetFaults(Faults{Latency: 30 * time.Millisecond})
	start := time.Now()
	resp, data := f.call(t, http.MethodGet, "/v1/sessions", testKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: status %d: %s", resp.StatusCode, data)
	}
	if elapsed := time.Since(start); elapsed < 30*time.Millisecond {
		t.Errorf("answer after %v, want at least the 30ms latency", elapsed)
	}
}

// With CommitLate, a create whose answer was lost is stored only CommitLate later: neither list,
// get nor Sessions see it before, and its createdAt is the commit.
func TestFaultCommitLate(t *testing.T) {
	for _, fault := range []Faults{{CreateCommitThenFail: 1}, {CreateCommitThenDrop: 1}} {
		f := newFixture(t, Project{Concurrency: 1}, true)
		fault.CommitLate = 30 * time.Second
		f.emu.SetFaults(fault)
		lostAt := f.clk.Now()
		req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/v1/sessions", strings.NewReader(`{"userMetadata":{"n":"late"}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-BB-API-Key", testKey)
		if resp, err := f.srv.Client().Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("%+v: lost create answered %d, want 500 or a dropped connection", fault, resp.StatusCode)
			}
		}
		if n := len(f.emu.Sessions()); n != 0 {
			t.Fatalf("%+v: %d sessions right after the lost answer, want 0", fault, n)
		}
		f.clk.Advance(29 * time.Second)
		if _, data := f.call(t, http.MethodGet, "/v1/sessions", testKey, nil); len(array(t, data)) != 0 {
			t.Fatalf("%+v: list before CommitLate = %s, want []", fault, data)
		}
		f.clk.Advance(time.Second)
		_, data := f.call(t, http.MethodGet, "/v1/sessions", testKey, nil)
		items := array(t, data)
		if len(items) != 1 || items[0]["userMetadata"].(map[string]any)["n"] != "late" {
			t.Fatalf("%+v: list after CommitLate = %s, want the late session", fault, data)
		}
		if created := parseTime(t, items[0]["createdAt"]); !created.Equal(lostAt.Add(30 * time.Second)) {
			t.Errorf("%+v: createdAt = %v, want %v", fault, created, lostAt.Add(30*time.Second))
		}
		// It holds the project's one slot now.
		resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, nil)
		wantError(t, resp, data, http.StatusTooManyRequests)
	}
}

func TestFaultsJSON(t *testing.T) {
	in := Faults{Latency: 1500 * time.Millisecond, ErrorRate: 0.25, CreateCommitThenFail: 1, CreateCommitThenDrop: 2, CommitLate: 3 * time.Second, ListLag: time.Minute}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"latency":"1.5s","errorRate":0.25,"createCommitThenFail":1,"createCommitThenDrop":2,"commitLate":"3s","listLag":"1m0s"}`; string(data) != want {
		t.Errorf("Marshal = %s, want %s", data, want)
	}
	var out Faults
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if out != in {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"errorRate":2}`), &out); err == nil {
		t.Error("Unmarshal of errorRate 2 succeeded, want an error")
	}
	if out != in {
		t.Errorf("a failed Unmarshal changed the value to %+v", out)
	}
}
