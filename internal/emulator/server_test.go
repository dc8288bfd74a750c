package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testKey  = "bb_test_key_one_0123456789"
	otherKey = "bb_test_key_two_0123456789"
)

// clock is a settable time source for the emulator.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	emu *Server
	srv *httptest.Server
	clk *clock // nil unless the fixture was made with a clock
}

// newFixture serves an emulator with two projects: testKey's proj-1 (limits p) and otherKey's
// proj-2. With a clock, the emulator's time stands still until the test advances it.
func newFixture(t *testing.T, p Project, withClock bool) *fixture {
	t.Helper()
	f := &fixture{emu: New()}
	if withClock {
		f.clk = &clock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
		f.emu.now = f.clk.Now
	}
	p.ID = "proj-1"
	f.emu.AddKey(testKey, p)
	f.emu.AddKey(otherKey, Project{ID: "proj-2"})
	f.srv = httptest.NewServer(f.emu)
	t.Cleanup(f.srv.Close)
	return f
}

// call makes one request. body is sent raw if it is a string, JSON-encoded otherwise, and not at
// all if nil.
func (f *fixture) call(t *testing.T, method, path, key string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encoding body: %v", err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, r)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if key != "" {
		req.Header.Set("X-BB-API-Key", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading answer: %v", method, path, err)
	}
	return resp, data
}

// create makes a session and returns its decoded answer.
func (f *fixture) create(t *testing.T, key string, body any) map[string]any {
	t.Helper()
	resp, data := f.call(t, http.MethodPost, "/v1/sessions", key, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d, want 201: %s", resp.StatusCode, data)
	}
	return object(t, data)
}

func (f *fixture) release(t *testing.T, key, id string) (*http.Response, []byte) {
	t.Helper()
	return f.call(t, http.MethodPost, "/v1/sessions/"+id, key, map[string]string{"status": "REQUEST_RELEASE"})
}

func object(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("answer %q is not a JSON object: %v", data, err)
	}
	return m
}

func array(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var a []map[string]any
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatalf("answer %q is not a JSON array of objects: %v", data, err)
	}
	return a
}

// wantError checks an answer is an error with the documented shape {statusCode, error, message}.
func wantError(t *testing.T, resp *http.Response, data []byte, code int) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, code, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	got := object(t, data)
	msg, ok := got["message"].(string)
	if !ok || msg == "" {
		t.Errorf("message = %#v, want a non-empty string", got["message"])
	}
	want := map[string]any{"statusCode": float64(code), "error": http.StatusText(code), "message": msg}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("error answer mismatch (-want +got):\n%s", d)
	}
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("time = %#v, want a string", v)
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return tm
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, Project{}, false)
	tests := []struct {
		name string
		key  string
	}{
		{name: "no key", key: ""},
		{name: "wrong key", key: "bb_test_wrong"},
		{name: "key with a different case", key: strings.ToUpper(testKey)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct{ method, path string }{
				{http.MethodGet, "/v1/sessions"},
				{http.MethodPost, "/v1/sessions"},
				{http.MethodGet, "/v1/sessions/abc"},
				{http.MethodPost, "/v1/sessions/abc"},
			} {
				resp, data := f.call(t, c.method, c.path, tt.key, "{}")
				wantError(t, resp, data, http.StatusUnauthorized)
			}
		})
	}
	if n := len(f.emu.Sessions()); n != 0 {
		t.Errorf("unauthorized calls created %d sessions", n)
	}
	for _, r := range f.emu.Requests() {
		if r.ProjectID != "" || r.Status != http.StatusUnauthorized {
			t.Errorf("request %s %s recorded with project %q status %d, want \"\" 401", r.Method, r.Path, r.ProjectID, r.Status)
		}
	}
	resp, data := f.call(t, http.MethodGet, "/v1/sessions", testKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("list with the right key: status %d: %s", resp.StatusCode, data)
	}
}

func TestOtherRoutes(t *testing.T) {
	f := newFixture(t, Project{}, false)
	id := f.create(t, testKey, nil)["id"].(string)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodDelete, "/v1/sessions/" + id, http.StatusMethodNotAllowed},
		{http.MethodPut, "/v1/sessions/" + id, http.StatusMethodNotAllowed},
		{http.MethodGet, "/v1/extensions", http.StatusNotFound},
		{http.MethodGet, "/v1/contexts", http.StatusNotFound},
		{http.MethodPost, "/v1/projects", http.StatusNotFound},
		{http.MethodGet, "/v2/sessions", http.StatusNotFound},
		{http.MethodGet, "/v1/sessions/" + id + "/logs", http.StatusNotFound},
		{http.MethodPost, "/v1/sessions/" + id + "/debug", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/projects/proj-1", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/projects/proj-1/usage", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/contexts/some-context", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/v1/sessions", http.StatusNotFound},
	} {
		resp, data := f.call(t, c.method, c.path, testKey, nil)
		wantError(t, resp, data, c.want)
	}
	if s, _ := f.emu.Session(id); s.Status != "RUNNING" {
		t.Errorf("session status %s, want RUNNING", s.Status)
	}
}

// eventually polls cond until it holds or 5 s have passed.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

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

func TestCountRequests(t *testing.T) {
	f := newFixture(t, Project{}, false)
	f.call(t, http.MethodGet, "/v1/sessions", testKey, nil)
	f.call(t, http.MethodGet, "/v1/sessions?status=RUNNING", testKey, nil)
	f.call(t, http.MethodGet, "/v1/sessions", "wrong-key", nil)
	id := f.create(t, testKey, nil)["id"].(string)
	f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
	f.release(t, testKey, id)

	tests := []struct {
		method, prefix string
		want           int
	}{
		{http.MethodGet, "/v1/sessions", 4}, // three lists (one refused) and a get
		{http.MethodGet, "/v1/sessions/", 1},
		{http.MethodPost, "/v1/sessions", 2}, // the prefix matches the release too
		{http.MethodPost, "/v1/sessions/", 1},
		{http.MethodDelete, "/", 0},
		{http.MethodGet, "/v2", 0},
	}
	for _, tt := range tests {
		if got := f.emu.CountRequests(tt.method, tt.prefix); got != tt.want {
			t.Errorf("CountRequests(%s, %q) = %d, want %d", tt.method, tt.prefix, got, tt.want)
		}
	}

	reqs := f.emu.Requests()
	type summary struct {
		Method, Path, Query, ProjectID string
		Status                         int
	}
	var got []summary
	for _, r := range reqs {
		got = append(got, summary{r.Method, r.Path, r.Query, r.ProjectID, r.Status})
	}
	want := []summary{
		{"GET", "/v1/sessions", "", "proj-1", 200},
		{"GET", "/v1/sessions", "status=RUNNING", "proj-1", 200},
		{"GET", "/v1/sessions", "", "", 401},
		{"POST", "/v1/sessions", "", "proj-1", 201},
		{"GET", "/v1/sessions/" + id, "", "proj-1", 200},
		{"POST", "/v1/sessions/" + id, "", "proj-1", 200},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Requests() mismatch (-want +got):\n%s", d)
	}
}

func TestRequestKind(t *testing.T) {
	for _, tc := range []struct {
		method, path, want string
	}{
		{http.MethodPost, "/v1/sessions", "create"},
		{http.MethodGet, "/v1/sessions", "list"},
		{http.MethodGet, "/v1/sessions/abc", "get"},
		{http.MethodPost, "/v1/sessions/abc", "release"},
		{http.MethodGet, "/v1/sessions/abc/debug", "other"},
		{http.MethodPost, "/v1/contexts", "other"},
	} {
		if got := (Request{Method: tc.method, Path: tc.path}).Kind(); got != tc.want {
			t.Errorf("%s %s: Kind() = %q, want %q", tc.method, tc.path, got, tc.want)
		}
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
