package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// admin calls the admin API, which takes no API key.
func (f *fixture) admin(t *testing.T, method, path string, body any) (*http.Response, []byte) {
	t.Helper()
	return f.call(t, method, path, "", body)
}

func TestAdminSessions(t *testing.T) {
	f := newFixture(t, Project{}, true)
	f.emu.SetGetReturnsConnect(false) // the admin view shows the connect fields regardless
	body := map[string]any{"userMetadata": map[string]any{"k8s": map[string]any{"uid": "u1"}}, "timeout": float64(120)}
	first := f.create(t, testKey, body)
	f.clk.Advance(time.Second)
	second := f.create(t, otherKey, nil)
	f.clk.Advance(time.Second)
	f.release(t, otherKey, second["id"].(string))

	resp, data := f.admin(t, http.MethodGet, "/admin/sessions", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin sessions: status %d, want 200: %s", resp.StatusCode, data)
	}
	got := array(t, data)

	wantFirst := map[string]any{}
	for k, v := range first {
		wantFirst[k] = v
	}
	wantFirst["createBody"] = body
	wantSecond := map[string]any{}
	for k, v := range second {
		wantSecond[k] = v
	}
	released := f.clk.Now().Format(time.RFC3339Nano)
	wantSecond["status"], wantSecond["updatedAt"], wantSecond["endedAt"] = "COMPLETED", released, released
	wantSecond["createBody"] = nil // the create had no body
	if d := cmp.Diff([]map[string]any{wantFirst, wantSecond}, got); d != "" {
		t.Errorf("admin sessions mismatch (-want +got):\n%s", d)
	}

	// The typed view decodes the same answer.
	var typed []AdminSession
	if err := json.Unmarshal(data, &typed); err != nil {
		t.Fatalf("decoding []AdminSession: %v", err)
	}
	if len(typed) != 2 || typed[0].SigningKey != first["signingKey"] || typed[0].CreateBody["timeout"] != float64(120) {
		t.Errorf("typed admin sessions = %+v", typed)
	}

	// The public API still keeps createBody to itself.
	_, data = f.call(t, http.MethodGet, "/v1/sessions/"+first["id"].(string), testKey, nil)
	if _, ok := object(t, data)["createBody"]; ok {
		t.Error("GET /v1/sessions/{id} shows createBody")
	}

	f.emu.Reset()
	if _, data := f.admin(t, http.MethodGet, "/admin/sessions", nil); string(data) != "[]\n" {
		t.Errorf("admin sessions of an empty emulator = %q, want []", data)
	}
}

func TestAdminRequests(t *testing.T) {
	f := newFixture(t, Project{}, true)
	if _, data := f.admin(t, http.MethodGet, "/admin/requests", nil); string(data) != "[]\n" {
		t.Errorf("admin requests before any call = %q, want []", data)
	}
	f.call(t, http.MethodGet, "/v1/sessions?status=RUNNING", testKey, nil)
	f.call(t, http.MethodGet, "/v1/projects", "wrong", nil)
	id := f.create(t, testKey, nil)["id"].(string)
	// Every admin route, none of which may be recorded.
	f.admin(t, http.MethodGet, "/admin/sessions", nil)
	f.admin(t, http.MethodGet, "/admin/faults", nil)
	f.admin(t, http.MethodPut, "/admin/faults", map[string]any{})
	f.admin(t, http.MethodPost, "/admin/sessions/"+id+"/status", map[string]any{"status": "RUNNING"})
	f.admin(t, http.MethodPost, "/admin/sessions/"+id+"/expire", nil)
	f.admin(t, http.MethodGet, "/admin/nope", nil)
	f.admin(t, http.MethodGet, "/admin/requests", nil)

	resp, data := f.admin(t, http.MethodGet, "/admin/requests", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin requests: status %d, want 200: %s", resp.StatusCode, data)
	}
	stamp := f.clk.Now().Format(time.RFC3339Nano)
	want := []map[string]any{
		{"time": stamp, "method": "GET", "path": "/v1/sessions", "query": "status=RUNNING", "projectId": "proj-1", "status": float64(200)},
		{"time": stamp, "method": "GET", "path": "/v1/projects", "status": float64(401)},
		{"time": stamp, "method": "POST", "path": "/v1/sessions", "projectId": "proj-1", "status": float64(201)},
	}
	if d := cmp.Diff(want, array(t, data)); d != "" {
		t.Errorf("admin requests mismatch (-want +got):\n%s", d)
	}
	if n := len(f.emu.Requests()); n != 3 {
		t.Errorf("Requests() holds %d calls, want 3: admin calls are not recorded", n)
	}
}

func TestAdminFaults(t *testing.T) {
	tests := []struct {
		name string
		body any
		want string // the answer and the GET afterwards; "" for a 400
	}{
		{
			name: "all fields",
			body: `{"latency":"250ms","errorRate":0.1,"createCommitThenFail":1,"createCommitThenDrop":2,"commitLate":"3s","listLag":"2s"}`,
			want: `{"latency":"250ms","errorRate":0.1,"createCommitThenFail":1,"createCommitThenDrop":2,"commitLate":"3s","listLag":"2s"}`,
		},
		{name: "missing fields are zero", body: `{"createCommitThenFail":3}`, want: `{"latency":"0s","errorRate":0,"createCommitThenFail":3,"createCommitThenDrop":0,"commitLate":"0s","listLag":"0s"}`},
		{name: "empty object clears", body: `{}`, want: `{"latency":"0s","errorRate":0,"createCommitThenFail":0,"createCommitThenDrop":0,"commitLate":"0s","listLag":"0s"}`},
		{name: "compound duration", body: `{"latency":"1m30s"}`, want: `{"latency":"1m30s","errorRate":0,"createCommitThenFail":0,"createCommitThenDrop":0,"commitLate":"0s","listLag":"0s"}`},
		{name: "unknown field", body: `{"latency":"1s","jitter":"1s"}`},
		{name: "latency as a number", body: `{"latency":250}`},
		{name: "latency without a unit", body: `{"latency":"250"}`},
		{name: "negative latency", body: `{"latency":"-1s"}`},
		{name: "error rate above 1", body: `{"errorRate":1.5}`},
		{name: "negative error rate", body: `{"errorRate":-0.1}`},
		{name: "negative count", body: `{"createCommitThenDrop":-1}`},
		{name: "negative commitLate", body: `{"commitLate":"-1s"}`},
		{name: "listLag without a unit", body: `{"listLag":"5"}`},
		{name: "not JSON", body: `latency=1s`},
		{name: "two values", body: `{} {}`},
		{name: "empty body", body: ``},
	}
	before := Faults{ErrorRate: 0.5, CreateCommitThenFail: 7}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Project{}, false)
			f.emu.SetFaults(before)
			resp, data := f.admin(t, http.MethodPut, "/admin/faults", tt.body)
			_, after := f.admin(t, http.MethodGet, "/admin/faults", nil)
			if tt.want == "" {
				wantError(t, resp, data, http.StatusBadRequest)
				if d := cmp.Diff(`{"latency":"0s","errorRate":0.5,"createCommitThenFail":7,"createCommitThenDrop":0,"commitLate":"0s","listLag":"0s"}`, strings.TrimSpace(string(after))); d != "" {
					t.Errorf("faults changed by a refused PUT (-want +got):\n%s", d)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("PUT faults: status %d, want 200: %s", resp.StatusCode, data)
			}
			for what, got := range map[string][]byte{"PUT answer": data, "GET afterwards": after} {
				if d := cmp.Diff(tt.want, strings.TrimSpace(string(got))); d != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", what, d)
				}
			}
		})
	}
}

func TestAdminFaultsTakeEffect(t *testing.T) {
	f := newFixture(t, Project{}, false)
	if resp, data := f.admin(t, http.MethodPut, "/admin/faults", `{"createCommitThenFail":1}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT faults: status %d: %s", resp.StatusCode, data)
	}
	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, "{}")
	wantError(t, resp, data, http.StatusInternalServerError)
	if n := len(f.emu.Sessions()); n != 1 {
		t.Errorf("Sessions() = %d, want the committed session", n)
	}
	// The spent fault shows as 0.
	_, data = f.admin(t, http.MethodGet, "/admin/faults", nil)
	if got := object(t, data)["createCommitThenFail"]; got != float64(0) {
		t.Errorf("createCommitThenFail after use = %v, want 0", got)
	}

	// Faults never touch the admin API: it answers at once and never fails.
	f.emu.SetFaults(Faults{ErrorRate: 1, Latency: time.Hour})
	for _, path := range []string{"/admin/sessions", "/admin/requests", "/admin/faults"} {
		if resp, data := f.admin(t, http.MethodGet, path, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s under faults: status %d: %s", path, resp.StatusCode, data)
		}
	}
	if resp, data := f.admin(t, http.MethodPut, "/admin/faults", `{}`); resp.StatusCode != http.StatusOK {
		t.Errorf("PUT /admin/faults under faults: status %d: %s", resp.StatusCode, data)
	}
	f.create(t, testKey, nil)
}

func TestAdminStatusAndExpire(t *testing.T) {
	tests := []struct {
		name       string
		path       string // after /admin/sessions/{id}
		body       any
		want       int
		wantStatus string
		wantEnded  bool
	}{
		{name: "complete", path: "/status", body: map[string]any{"status": "COMPLETED"}, want: 200, wantStatus: "COMPLETED", wantEnded: true},
		{name: "error", path: "/status", body: map[string]any{"status": "ERROR"}, want: 200, wantStatus: "ERROR", wantEnded: true},
		{name: "a status the enum lacks", path: "/status", body: map[string]any{"status": "HIBERNATING"}, want: 200, wantStatus: "HIBERNATING"},
		{name: "back to pending", path: "/status", body: map[string]any{"status": "PENDING"}, want: 200, wantStatus: "PENDING"},
		{name: "expire", path: "/expire", want: 200, wantStatus: "TIMED_OUT", wantEnded: true},
		{name: "no status", path: "/status", body: map[string]any{}, want: 400, wantStatus: "RUNNING"},
		{name: "empty status", path: "/status", body: map[string]any{"status": ""}, want: 400, wantStatus: "RUNNING"},
		{name: "unknown field", path: "/status", body: map[string]any{"status": "ERROR", "reason": "x"}, want: 400, wantStatus: "RUNNING"},
		{name: "not JSON", path: "/status", body: "status=ERROR", want: 400, wantStatus: "RUNNING"},
		{name: "no body", path: "/status", want: 400, wantStatus: "RUNNING"},
		{name: "GET status", path: "/status", want: 405, wantStatus: "RUNNING"},
		{name: "unknown action", path: "/pause", want: 404, wantStatus: "RUNNING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Project{}, true)
			id := f.create(t, testKey, nil)["id"].(string)
			f.clk.Advance(time.Minute)
			method := http.MethodPost
			if strings.HasPrefix(tt.name, "GET") {
				method = http.MethodGet
			}
			resp, data := f.admin(t, method, "/admin/sessions/"+id+tt.path, tt.body)
			if tt.want != http.StatusOK {
				wantError(t, resp, data, tt.want)
			} else {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200: %s", resp.StatusCode, data)
				}
				got := object(t, data)
				if got["id"] != id || got["status"] != tt.wantStatus || got["signingKey"] == nil {
					t.Errorf("answer = %s, want the admin view of %s with status %s", data, id, tt.wantStatus)
				}
			}
			// The public API sees the change.
			_, data = f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
			got := object(t, data)
			if got["status"] != tt.wantStatus {
				t.Errorf("status %v, want %s", got["status"], tt.wantStatus)
			}
			if _, ended := got["endedAt"]; ended != tt.wantEnded {
				t.Errorf("endedAt %v, want present = %t", got["endedAt"], tt.wantEnded)
			} else if ended && !parseTime(t, got["endedAt"]).Equal(f.clk.Now()) {
				t.Errorf("endedAt %v, want %v", got["endedAt"], f.clk.Now())
			}
		})
	}

	f := newFixture(t, Project{}, false)
	for _, path := range []string{"/admin/sessions/nope/status", "/admin/sessions/nope/expire"} {
		resp, data := f.admin(t, http.MethodPost, path, map[string]any{"status": "COMPLETED"})
		wantError(t, resp, data, http.StatusNotFound)
	}
}

func TestAdminReviveEndedSession(t *testing.T) {
	f := newFixture(t, Project{}, true)
	id := f.create(t, testKey, nil)["id"].(string)
	f.release(t, testKey, id)
	resp, data := f.admin(t, http.MethodPost, "/admin/sessions/"+id+"/status", map[string]any{"status": "RUNNING"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	if got := object(t, data); got["status"] != "RUNNING" || got["endedAt"] != nil {
		t.Errorf("revived session: status %v endedAt %v, want RUNNING and no endedAt", got["status"], got["endedAt"])
	}
}

func TestAdminReset(t *testing.T) {
	f := newFixture(t, Project{CreatesPerMinute: 1}, true)
	f.emu.SetConcurrencyRetryAfter(0)
	f.emu.SetGetReturnsConnect(false)
	id := f.create(t, testKey, nil)["id"].(string)
	_, data := f.call(t, http.MethodPost, "/v1/contexts", testKey, nil)
	ctxID := object(t, data)["id"].(string)
	f.emu.SetFaults(Faults{CreateCommitThenDrop: 3})

	resp, data := f.admin(t, http.MethodPost, "/admin/reset", nil)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(data)) != "{}" {
		t.Fatalf("reset: status %d body %q, want 200 {}", resp.StatusCode, data)
	}
	if n := len(f.emu.Sessions()); n != 0 {
		t.Errorf("Sessions() = %d after reset, want 0", n)
	}
	if n := len(f.emu.Requests()); n != 0 {
		t.Errorf("Requests() = %d after reset, want 0", n)
	}
	_, data = f.admin(t, http.MethodGet, "/admin/faults", nil)
	if got := strings.TrimSpace(string(data)); got != `{"latency":"0s","errorRate":0,"createCommitThenFail":0,"createCommitThenDrop":0,"commitLate":"0s","listLag":"0s"}` {
		t.Errorf("faults after reset = %s, want none", got)
	}
	// The keys stay; the creation window is empty again, so a create fits at once; the old
	// session and context are gone; the settings stay.
	created := f.create(t, testKey, nil)
	if _, ok := created["connectUrl"]; !ok {
		t.Error("create after reset lacks connectUrl")
	}
	resp, data = f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
	wantError(t, resp, data, http.StatusNotFound)
	resp, data = f.call(t, http.MethodGet, "/v1/contexts/"+ctxID, testKey, nil)
	wantError(t, resp, data, http.StatusNotFound)
	_, data = f.call(t, http.MethodGet, "/v1/sessions/"+created["id"].(string), testKey, nil)
	if _, ok := object(t, data)["connectUrl"]; ok {
		t.Error("GET after reset returns connectUrl: SetGetReturnsConnect(false) did not survive the reset")
	}
}

func TestAdminRoutes(t *testing.T) {
	f := newFixture(t, Project{}, false)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/admin/sessions", 200},
		{http.MethodGet, "/admin/sessions/", 200},
		{http.MethodGet, "/admin/requests", 200},
		{http.MethodGet, "/admin/faults", 200},
		{http.MethodPost, "/admin/reset", 200},
		{http.MethodPost, "/admin/sessions", 405},
		{http.MethodDelete, "/admin/requests", 405},
		{http.MethodPost, "/admin/faults", 405},
		{http.MethodGet, "/admin/reset", 405},
		{http.MethodGet, "/admin", 404},
		{http.MethodGet, "/admin/", 404},
		{http.MethodGet, "/admin/sessions/x", 404},
		{http.MethodGet, "/admin/keys", 404},
		{http.MethodGet, "/administrator", 401}, // not the admin API: an API route without a key
	}
	for _, tt := range tests {
		resp, data := f.admin(t, tt.method, tt.path, nil)
		if tt.want != http.StatusOK {
			wantError(t, resp, data, tt.want)
		} else if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: status %d, want 200: %s", tt.method, tt.path, resp.StatusCode, data)
		}
	}
	// The API keys are not needed, and not refused either.
	resp, data := f.call(t, http.MethodGet, "/admin/sessions", testKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("admin call with an API key: status %d: %s", resp.StatusCode, data)
	}
}

func TestAdminSettings(t *testing.T) {
	f := newFixture(t, Project{}, false)
	resp, data := f.admin(t, http.MethodGet, "/admin/settings", nil)
	if want := `{"getReturnsConnect":true,"pendingFor":"0s","concurrencyRetryAfter":"1m0s"}`; resp.StatusCode != http.StatusOK || strings.TrimSpace(string(data)) != want {
		t.Fatalf("GET /admin/settings = %d %s, want 200 %s", resp.StatusCode, data, want)
	}
	resp, data = f.admin(t, http.MethodPut, "/admin/settings", `{"getReturnsConnect":false}`)
	if want := `{"getReturnsConnect":false,"pendingFor":"0s","concurrencyRetryAfter":"1m0s"}`; resp.StatusCode != http.StatusOK || strings.TrimSpace(string(data)) != want {
		t.Fatalf("PUT /admin/settings = %d %s, want 200 %s", resp.StatusCode, data, want)
	}
	id := f.create(t, testKey, nil)["id"].(string)
	_, data = f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
	for _, field := range []string{"connectUrl", "signingKey", "seleniumRemoteUrl"} {
		if _, ok := object(t, data)[field]; ok {
			t.Errorf("GET with getReturnsConnect=false carries %s", field)
		}
	}
	resp, data = f.admin(t, http.MethodPut, "/admin/settings", `{"pendingFor":"2s","concurrencyRetryAfter":"0s"}`)
	if want := `{"getReturnsConnect":false,"pendingFor":"2s","concurrencyRetryAfter":"0s"}`; resp.StatusCode != http.StatusOK || strings.TrimSpace(string(data)) != want {
		t.Fatalf("PUT /admin/settings = %d %s, want 200 %s", resp.StatusCode, data, want)
	}
	for _, bad := range []string{`{"pendingFor":"-1s"}`, `{"pendingFor":"2"}`, `{"getReturnsConnect":"no"}`, `{"latency":"1s"}`, ``} {
		resp, data := f.admin(t, http.MethodPut, "/admin/settings", bad)
		wantError(t, resp, data, http.StatusBadRequest)
	}
	resp, data = f.admin(t, http.MethodPost, "/admin/settings", `{}`)
	wantError(t, resp, data, http.StatusMethodNotAllowed)
}
