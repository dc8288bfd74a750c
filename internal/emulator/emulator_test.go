package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
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

func TestCreateSession(t *testing.T) {
	f := newFixture(t, Project{DefaultTimeout: 600}, true)
	body := map[string]any{
		"projectId":       "proj-1",
		"keepAlive":       true,
		"userMetadata":    map[string]any{"k8s": map[string]any{"uid": "1234"}},
		"browserSettings": map[string]any{"context": map[string]any{"id": "ctx-1", "persist": true}},
	}

	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d, want 201: %s", resp.StatusCode, data)
	}
	if resp.Header.Get("x-request-id") == "" {
		t.Error("answer has no x-request-id")
	}
	got := object(t, data)

	id, _ := got["id"].(string)
	signingKey, _ := got["signingKey"].(string)
	if id == "" || signingKey == "" {
		t.Fatalf("answer lacks id or signingKey: %s", data)
	}
	now := f.clk.Now().Format(time.RFC3339Nano)
	want := map[string]any{
		"id":                id,
		"createdAt":         now,
		"updatedAt":         now,
		"startedAt":         now,
		"expiresAt":         f.clk.Now().Add(600 * time.Second).Format(time.RFC3339Nano),
		"projectId":         "proj-1",
		"status":            "RUNNING",
		"proxyBytes":        float64(0),
		"keepAlive":         true,
		"region":            "us-west-2",
		"contextId":         "ctx-1",
		"userMetadata":      map[string]any{"k8s": map[string]any{"uid": "1234"}},
		"connectUrl":        "wss://connect.usw2.browserbase.com/?signingKey=" + signingKey,
		"seleniumRemoteUrl": "https://connect.usw2.browserbase.com/webdriver",
		"signingKey":        signingKey,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("create answer mismatch (-want +got):\n%s", d)
	}

	sessions := f.emu.Sessions()
	if len(sessions) != 1 || sessions[0].ID != id {
		t.Fatalf("Sessions() = %d sessions, want the one created", len(sessions))
	}
	if d := cmp.Diff(body, sessions[0].CreateBody); d != "" {
		t.Errorf("CreateBody mismatch (-want +got):\n%s", d)
	}
}

func TestCreateSessionRegionAndTimeout(t *testing.T) {
	f := newFixture(t, Project{}, true)
	tests := []struct {
		body        map[string]any
		wantHost    string
		wantTimeout time.Duration
	}{
		{body: map[string]any{}, wantHost: "connect.usw2.browserbase.com", wantTimeout: 300 * time.Second},
		{body: map[string]any{"region": "us-east-1", "timeout": 60}, wantHost: "connect.use1.browserbase.com", wantTimeout: 60 * time.Second},
		{body: map[string]any{"region": "eu-central-1", "timeout": 21600}, wantHost: "connect.euc1.browserbase.com", wantTimeout: 21600 * time.Second},
		{body: map[string]any{"region": "ap-southeast-1"}, wantHost: "connect.apse1.browserbase.com", wantTimeout: 300 * time.Second},
	}
	for _, tt := range tests {
		got := f.create(t, testKey, tt.body)
		u, err := url.Parse(got["connectUrl"].(string))
		if err != nil {
			t.Fatalf("connectUrl: %v", err)
		}
		if u.Scheme != "wss" || u.Host != tt.wantHost || u.Query().Get("signingKey") != got["signingKey"] {
			t.Errorf("create %v: connectUrl = %s, want wss://%s/?signingKey=<signingKey>", tt.body, u, tt.wantHost)
		}
		if got, want := got["seleniumRemoteUrl"], "https://"+tt.wantHost+"/webdriver"; got != want {
			t.Errorf("create %v: seleniumRemoteUrl = %v, want %s", tt.body, got, want)
		}
		if d := parseTime(t, got["expiresAt"]).Sub(parseTime(t, got["createdAt"])); d != tt.wantTimeout {
			t.Errorf("create %v: expiresAt - createdAt = %v, want %v", tt.body, d, tt.wantTimeout)
		}
	}
	// Every session gets its own signing key.
	keys := map[string]bool{}
	for _, s := range f.emu.Sessions() {
		keys[s.SigningKey] = true
	}
	if len(keys) != len(tests) {
		t.Errorf("%d distinct signing keys for %d sessions", len(keys), len(tests))
	}
}

func TestCreateSessionValidation(t *testing.T) {
	// {"k":"…"} serializes to 8 characters plus the value.
	metadataOfSize := func(n int) map[string]any { return map[string]any{"k": strings.Repeat("a", n-8)} }
	tests := []struct {
		name string
		body any
		want int
	}{
		{name: "timeout 59", body: map[string]any{"timeout": 59}, want: http.StatusBadRequest},
		{name: "timeout 60", body: map[string]any{"timeout": 60}, want: http.StatusCreated},
		{name: "timeout 21600", body: map[string]any{"timeout": 21600}, want: http.StatusCreated},
		{name: "timeout 21601", body: map[string]any{"timeout": 21601}, want: http.StatusBadRequest},
		{name: "timeout 0", body: map[string]any{"timeout": 0}, want: http.StatusBadRequest},
		{name: "timeout not an integer", body: `{"timeout": 60.5}`, want: http.StatusBadRequest},
		{name: "timeout a string", body: `{"timeout": "60"}`, want: http.StatusBadRequest},
		{name: "unknown region", body: map[string]any{"region": "mars-north-1"}, want: http.StatusBadRequest},
		{name: "region short name", body: map[string]any{"region": "usw2"}, want: http.StatusBadRequest},
		{name: "userMetadata of 511 characters", body: map[string]any{"userMetadata": metadataOfSize(511)}, want: http.StatusCreated},
		{name: "userMetadata of 512 characters", body: map[string]any{"userMetadata": metadataOfSize(512)}, want: http.StatusBadRequest},
		{name: "userMetadata of 4 KiB", body: map[string]any{"userMetadata": metadataOfSize(4096)}, want: http.StatusBadRequest},
		{name: "body not an object", body: `[]`, want: http.StatusBadRequest},
		{name: "body not JSON", body: `timeout=60`, want: http.StatusBadRequest},
		{name: "another project", body: map[string]any{"projectId": "proj-2"}, want: http.StatusNotFound},
		{name: "own project", body: map[string]any{"projectId": "proj-1"}, want: http.StatusCreated},
		{name: "empty body", body: "", want: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Project{}, false)
			resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, tt.body)
			wantSessions := 1
			if tt.want == http.StatusCreated {
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("status %d, want 201: %s", resp.StatusCode, data)
				}
			} else {
				wantError(t, resp, data, tt.want)
				wantSessions = 0
			}
			if n := len(f.emu.Sessions()); n != wantSessions {
				t.Errorf("Sessions() = %d sessions, want %d", n, wantSessions)
			}
		})
	}
}

func TestGetSession(t *testing.T) {
	f := newFixture(t, Project{}, false)
	created := f.create(t, testKey, map[string]any{"userMetadata": map[string]any{"a": "b"}})
	id := created["id"].(string)

	resp, data := f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get: status %d, want 200: %s", resp.StatusCode, data)
	}
	if d := cmp.Diff(created, object(t, data)); d != "" {
		t.Errorf("get answer differs from the create answer (-want +got):\n%s", d)
	}

	// A trailing slash names the same session.
	if resp, data := f.call(t, http.MethodGet, "/v1/sessions/"+id+"/", testKey, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("get with a trailing slash: status %d: %s", resp.StatusCode, data)
	}

	f.emu.SetGetReturnsConnect(false)
	_, data = f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
	got := object(t, data)
	for _, field := range []string{"connectUrl", "signingKey", "seleniumRemoteUrl"} {
		if _, ok := got[field]; ok {
			t.Errorf("get with SetGetReturnsConnect(false) returns %s", field)
		}
	}
	if got["id"] != id {
		t.Errorf("get id = %v, want %s", got["id"], id)
	}

	for name, c := range map[string]struct{ key, id string }{
		"unknown id":                   {testKey, "00000000-0000-4000-8000-000000000000"},
		"another project's session":    {otherKey, id},
		"nested path is not a session": {testKey, id + "/logs"},
	} {
		resp, data := f.call(t, http.MethodGet, "/v1/sessions/"+c.id, c.key, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404: %s", name, resp.StatusCode, data)
			continue
		}
		wantError(t, resp, data, http.StatusNotFound)
	}
}

func TestListSessions(t *testing.T) {
	f := newFixture(t, Project{}, true)
	create := func(key string, md any) string {
		t.Helper()
		body := map[string]any{}
		if md != nil {
			body["userMetadata"] = md
		}
		id := f.create(t, key, body)["id"].(string)
		f.clk.Advance(time.Second) // distinct creation times, so the order is defined
		return id
	}
	a := create(testKey, map[string]any{"k8s": map[string]any{"uid": "x"}})
	b := create(testKey, map[string]any{"k8s": map[string]any{"uid": "y"}})
	c := create(testKey, map[string]any{"k8s": map[string]any{"uid": 5}})
	d := create(testKey, map[string]any{"k8s": "x"})
	e := create(testKey, nil)
	g := create(testKey, map[string]any{"k8s": map[string]any{"uid": "x", "extra": true}})
	create(otherKey, map[string]any{"k8s": map[string]any{"uid": "x"}})
	nested := create(testKey, map[string]any{"k8s": map[string]any{"uid": map[string]any{"deeper": "x"}}})
	if resp, data := f.release(t, testKey, g); resp.StatusCode != http.StatusOK {
		t.Fatalf("release: status %d: %s", resp.StatusCode, data)
	}

	tests := []struct {
		name   string
		status string
		q      string
		want   []string // newest first
	}{
		{name: "all", want: []string{nested, g, e, d, c, b, a}},
		{name: "running", status: "RUNNING", want: []string{nested, e, d, c, b, a}},
		{name: "completed", status: "COMPLETED", want: []string{g}},
		{name: "unknown status", status: "HIBERNATING", want: []string{}},
		{name: "uid x", q: "user_metadata['k8s']['uid']:'x'", want: []string{g, a}},
		{name: "uid x and running", status: "RUNNING", q: "user_metadata['k8s']['uid']:'x'", want: []string{a}},
		{name: "uid y", q: "user_metadata['k8s']['uid']:'y'", want: []string{b}},
		{name: "number is not a string", q: "user_metadata['k8s']['uid']:'5'", want: []string{}},
		{name: "top-level key", q: "user_metadata['k8s']:'x'", want: []string{d}},
		{name: "no such key", q: "user_metadata['nope']['uid']:'x'", want: []string{}},
		{name: "path too deep", q: "user_metadata['k8s']['uid']['deeper']['x']:'x'", want: []string{}},
		{name: "nested object", q: "user_metadata['k8s']['uid']['deeper']:'x'", want: []string{nested}},
		{name: "empty value", q: "user_metadata['k8s']['uid']:''", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query := url.Values{}
			if tt.status != "" {
				query.Set("status", tt.status)
			}
			if tt.q != "" {
				query.Set("q", tt.q)
			}
			resp, data := f.call(t, http.MethodGet, "/v1/sessions?"+query.Encode(), testKey, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("list: status %d, want 200: %s", resp.StatusCode, data)
			}
			items := array(t, data)
			got := []string{}
			for _, item := range items {
				got = append(got, item["id"].(string))
				for _, field := range []string{"connectUrl", "signingKey", "seleniumRemoteUrl"} {
					if _, ok := item[field]; ok {
						t.Errorf("list item %s carries %s", item["id"], field)
					}
				}
				if item["projectId"] != "proj-1" {
					t.Errorf("list item %s of project %v", item["id"], item["projectId"])
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("listed ids mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestListSessionsMalformedQuery(t *testing.T) {
	f := newFixture(t, Project{}, false)
	f.create(t, testKey, map[string]any{"userMetadata": map[string]any{"k8s": map[string]any{"uid": "x"}}})
	for _, q := range []string{
		"k8s.uid:x",
		"metadata['k8s']:'x'",
		"user_metadata:'x'",
		"user_metadata['k8s']",
		"user_metadata['k8s",
		"user_metadata['k8s']:x",
		"user_metadata['k8s']:'x",
		"user_metadata['k8s']='x'",
	} {
		resp, data := f.call(t, http.MethodGet, "/v1/sessions?q="+url.QueryEscape(q), testKey, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("q=%s: status %d, want 400: %s", q, resp.StatusCode, data)
			continue
		}
		wantError(t, resp, data, http.StatusBadRequest)
	}
}

func TestReleaseSession(t *testing.T) {
	f := newFixture(t, Project{}, true)
	id := f.create(t, testKey, nil)["id"].(string)
	f.clk.Advance(10 * time.Second)
	releasedAt := f.clk.Now()

	resp, data := f.release(t, testKey, id)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("release: status %d, want 200: %s", resp.StatusCode, data)
	}
	got := object(t, data)
	if got["id"] != id || got["status"] != "COMPLETED" {
		t.Errorf("release answer id %v status %v, want %s COMPLETED", got["id"], got["status"], id)
	}
	if !parseTime(t, got["endedAt"]).Equal(releasedAt) {
		t.Errorf("release answer endedAt = %v, want %v", got["endedAt"], releasedAt)
	}
	for _, field := range []string{"connectUrl", "signingKey", "seleniumRemoteUrl"} {
		if _, ok := got[field]; ok {
			t.Errorf("release answer carries %s", field)
		}
	}

	_, data = f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
	read := object(t, data)
	if read["status"] != "COMPLETED" || !parseTime(t, read["endedAt"]).Equal(releasedAt) {
		t.Errorf("get after release: status %v endedAt %v, want COMPLETED %v", read["status"], read["endedAt"], releasedAt)
	}

	// Releasing again is harmless and changes nothing.
	f.clk.Advance(time.Minute)
	resp, data = f.release(t, testKey, id)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second release: status %d, want 200: %s", resp.StatusCode, data)
	}
	again := object(t, data)
	if again["status"] != "COMPLETED" || !parseTime(t, again["endedAt"]).Equal(releasedAt) {
		t.Errorf("second release: status %v endedAt %v, want COMPLETED %v", again["status"], again["endedAt"], releasedAt)
	}
}

func TestReleaseSessionRejected(t *testing.T) {
	f := newFixture(t, Project{}, false)
	id := f.create(t, testKey, nil)["id"].(string)
	tests := []struct {
		name string
		key  string
		id   string
		body any
		want int
	}{
		{name: "other status", key: testKey, id: id, body: `{"status":"COMPLETED"}`, want: http.StatusBadRequest},
		{name: "lower case", key: testKey, id: id, body: `{"status":"request_release"}`, want: http.StatusBadRequest},
		{name: "no status", key: testKey, id: id, body: `{}`, want: http.StatusBadRequest},
		{name: "not JSON", key: testKey, id: id, body: `status=REQUEST_RELEASE`, want: http.StatusBadRequest},
		{name: "empty body", key: testKey, id: id, body: "", want: http.StatusBadRequest},
		{name: "unknown session", key: testKey, id: "00000000-0000-4000-8000-000000000000", body: `{"status":"REQUEST_RELEASE"}`, want: http.StatusNotFound},
		{name: "another project's session", key: otherKey, id: id, body: `{"status":"REQUEST_RELEASE"}`, want: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := f.call(t, http.MethodPost, "/v1/sessions/"+tt.id, tt.key, tt.body)
			wantError(t, resp, data, tt.want)
			if s, _ := f.emu.Session(id); s.Status != "RUNNING" || s.EndedAt != nil {
				t.Errorf("session status %s endedAt %v after a refused release, want RUNNING and no endedAt", s.Status, s.EndedAt)
			}
		})
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

func TestExpireSession(t *testing.T) {
	f := newFixture(t, Project{}, true)
	id := f.create(t, testKey, nil)["id"].(string)
	f.clk.Advance(30 * time.Second)
	expiredAt := f.clk.Now()

	if !f.emu.ExpireSession(id) {
		t.Fatal("ExpireSession() = false for an existing session")
	}
	if f.emu.ExpireSession("no-such-session") {
		t.Error("ExpireSession() = true for an unknown session")
	}

	s, ok := f.emu.Session(id)
	if !ok || s.Status != "TIMED_OUT" || s.EndedAt == nil || !s.EndedAt.Equal(expiredAt) {
		t.Errorf("Session() = %s endedAt %v (found %t), want TIMED_OUT at %v", s.Status, s.EndedAt, ok, expiredAt)
	}
	_, data := f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
	got := object(t, data)
	if got["status"] != "TIMED_OUT" || !parseTime(t, got["endedAt"]).Equal(expiredAt) {
		t.Errorf("get: status %v endedAt %v, want TIMED_OUT at %v", got["status"], got["endedAt"], expiredAt)
	}
	// A release of a timed-out session is accepted and leaves it timed out.
	_, data = f.release(t, testKey, id)
	if got := object(t, data); got["status"] != "TIMED_OUT" {
		t.Errorf("release of a timed-out session: status %v, want TIMED_OUT", got["status"])
	}
}

func TestSessionTimesOutAtExpiresAt(t *testing.T) {
	f := newFixture(t, Project{}, true)
	created := f.create(t, testKey, map[string]any{"timeout": 60})
	id := created["id"].(string)
	expiresAt := parseTime(t, created["expiresAt"])

	f.clk.Advance(59 * time.Second)
	if s, _ := f.emu.Session(id); s.Status != "RUNNING" {
		t.Errorf("status %s after 59 s of 60, want RUNNING", s.Status)
	}
	f.clk.Advance(5 * time.Second)
	_, data := f.call(t, http.MethodGet, "/v1/sessions?status=TIMED_OUT", testKey, nil)
	items := array(t, data)
	if len(items) != 1 || items[0]["id"] != id || !parseTime(t, items[0]["endedAt"]).Equal(expiresAt) {
		t.Errorf("TIMED_OUT sessions = %v, want %s ended at %v", items, id, expiresAt)
	}
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

func TestCreateSessionOutsideTheProjectsRegions(t *testing.T) {
	f := newFixture(t, Project{Regions: []string{"us-west-2"}}, false)
	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, map[string]any{"region": "eu-central-1"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "Region eu-central-1 is not available for this project") {
		t.Errorf("create in eu-central-1 = %d %s, want 400 naming the region", resp.StatusCode, data)
	}
	f.create(t, testKey, map[string]any{"region": "us-west-2"})
	f.create(t, testKey, map[string]any{}) // the default region is allowed
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
