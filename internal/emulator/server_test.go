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

// A removed key is refused, as a revoked one is; another key of the same project still sees
// the sessions made with it.
func TestRemoveKey(t *testing.T) {
	f := newFixture(t, Project{ID: "proj-1"}, false)
	f.emu.AddKey("bb_test_second_key", Project{ID: "proj-1"})
	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, data)
	}
	f.emu.RemoveKey(testKey)
	resp, data = f.call(t, http.MethodGet, "/v1/sessions", testKey, nil)
	wantError(t, resp, data, http.StatusUnauthorized)
	resp, data = f.call(t, http.MethodGet, "/v1/sessions", "bb_test_second_key", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"projectId":"proj-1"`) {
		t.Errorf("list with the project's other key: %d %s", resp.StatusCode, data)
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
