package emulator

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSessionDebugURLs(t *testing.T) {
	f := newFixture(t, Project{}, true)
	running := f.create(t, testKey, nil)["id"].(string)
	released := f.create(t, testKey, nil)["id"].(string)
	f.release(t, testKey, released)
	f.emu.SetPendingFor(time.Minute)
	pending := f.create(t, testKey, nil)["id"].(string)

	pageIDs := map[string]string{}
	for _, tt := range []struct {
		name      string
		id        string
		wantPages int
	}{
		{name: "running session has its page", id: running, wantPages: 1},
		{name: "ended session has no pages", id: released, wantPages: 0},
		{name: "pending session has no pages yet", id: pending, wantPages: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := f.call(t, http.MethodGet, "/v1/sessions/"+tt.id+"/debug", testKey, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("debug: status %d, want 200: %s", resp.StatusCode, data)
			}
			got := object(t, data)
			m := regexp.MustCompile(`^wss://connect\.browserbase\.com/debug/` + tt.id + `/devtools/page/([0-9A-F]{32})$`).
				FindStringSubmatch(got["wsUrl"].(string))
			if m == nil {
				t.Fatalf("wsUrl = %v, want wss://connect.browserbase.com/debug/%s/devtools/page/<32 hex>", got["wsUrl"], tt.id)
			}
			pageIDs[tt.id] = m[1]
			target := "connect.browserbase.com/debug/" + tt.id + "/devtools/page/" + m[1]
			fullscreen := "https://www.browserbase.com/devtools-fullscreen/inspector.html?wss=" + target + "?debug=true"
			debugger := "https://www.browserbase.com/devtools/inspector.html?wss=" + target + "?debug=true"
			pages := []any{}
			if tt.wantPages == 1 {
				pages = append(pages, map[string]any{
					"id": m[1], "url": "about:blank", "faviconUrl": "", "title": "about:blank",
					"debuggerUrl": debugger, "debuggerFullscreenUrl": fullscreen,
				})
			}
			want := map[string]any{
				"debuggerFullscreenUrl": fullscreen,
				"debuggerUrl":           debugger,
				"wsUrl":                 "wss://" + target,
				"pages":                 pages,
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("debug answer mismatch (-want +got):\n%s", d)
			}
		})
	}
	if len(pageIDs) == 3 && (pageIDs[running] == pageIDs[released] || pageIDs[running] == pageIDs[pending]) {
		t.Errorf("sessions share a page id: %v", pageIDs)
	}

	// The page id is stable across calls.
	_, data := f.call(t, http.MethodGet, "/v1/sessions/"+running+"/debug", testKey, nil)
	if got := object(t, data)["pages"].([]any)[0].(map[string]any)["id"]; got != pageIDs[running] {
		t.Errorf("second debug call: page id %v, want %s", got, pageIDs[running])
	}

	// Once the pending session runs, it has its page too.
	f.clk.Advance(time.Minute)
	_, data = f.call(t, http.MethodGet, "/v1/sessions/"+pending+"/debug", testKey, nil)
	if pages := object(t, data)["pages"].([]any); len(pages) != 1 {
		t.Errorf("debug of a session that is now RUNNING: %d pages, want 1", len(pages))
	}

	for name, c := range map[string]struct{ key, id string }{
		"unknown id":                {testKey, "00000000-0000-4000-8000-000000000000"},
		"another project's session": {otherKey, running},
	} {
		t.Run(name, func(t *testing.T) {
			resp, data := f.call(t, http.MethodGet, "/v1/sessions/"+c.id+"/debug", c.key, nil)
			wantError(t, resp, data, http.StatusNotFound)
		})
	}
}

func TestContexts(t *testing.T) {
	f := newFixture(t, Project{}, true)
	createdAt := f.clk.Now()

	resp, data := f.call(t, http.MethodPost, "/v1/contexts", testKey, map[string]any{"projectId": "proj-1"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create context: status %d, want 201: %s", resp.StatusCode, data)
	}
	created := object(t, data)
	id, _ := created["id"].(string)
	publicKey, _ := created["publicKey"].(string)
	if id == "" {
		t.Fatalf("create context answer has no id: %s", data)
	}
	want := map[string]any{
		"id":                       id,
		"uploadUrl":                "https://upload.browserbase.com/v1/contexts/" + id,
		"publicKey":                publicKey,
		"cipherAlgorithm":          "AES-256-CBC",
		"initializationVectorSize": float64(16),
	}
	if d := cmp.Diff(want, created); d != "" {
		t.Errorf("create context answer mismatch (-want +got):\n%s", d)
	}
	block, _ := pem.Decode([]byte(publicKey))
	if block == nil {
		t.Fatalf("publicKey %q is not PEM", publicKey)
	}
	if key, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		t.Errorf("publicKey: %v", err)
	} else if _, ok := key.(*rsa.PublicKey); !ok {
		t.Errorf("publicKey is a %T, want an RSA key", key)
	}

	get := func(t *testing.T, key string) (*http.Response, []byte) {
		t.Helper()
		return f.call(t, http.MethodGet, "/v1/contexts/"+id, key, nil)
	}
	resp, data = get(t, testKey)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get context: status %d, want 200: %s", resp.StatusCode, data)
	}
	stamp := createdAt.Format(time.RFC3339Nano)
	wantContext := map[string]any{"id": id, "createdAt": stamp, "updatedAt": stamp, "projectId": "proj-1"}
	if d := cmp.Diff(wantContext, object(t, data)); d != "" {
		t.Errorf("get context mismatch (-want +got):\n%s", d)
	}

	// The deprecated update answers new upload details and touches updatedAt.
	f.clk.Advance(time.Minute)
	resp, data = f.call(t, http.MethodPut, "/v1/contexts/"+id, testKey, nil)
	if resp.StatusCode != http.StatusOK || object(t, data)["id"] != id {
		t.Fatalf("update context: status %d: %s", resp.StatusCode, data)
	}
	_, data = get(t, testKey)
	wantContext["updatedAt"] = f.clk.Now().Format(time.RFC3339Nano)
	if d := cmp.Diff(wantContext, object(t, data)); d != "" {
		t.Errorf("get context after update mismatch (-want +got):\n%s", d)
	}

	// Another project cannot see, change or delete it.
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		resp, data := f.call(t, method, "/v1/contexts/"+id, otherKey, nil)
		wantError(t, resp, data, http.StatusNotFound)
	}

	resp, data = f.call(t, http.MethodDelete, "/v1/contexts/"+id, testKey, nil)
	if resp.StatusCode != http.StatusNoContent || len(data) != 0 {
		t.Fatalf("delete context: status %d body %q, want 204 and no body", resp.StatusCode, data)
	}
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		resp, data := f.call(t, method, "/v1/contexts/"+id, testKey, nil)
		wantError(t, resp, data, http.StatusNotFound)
	}
}

func TestCreateContextBodies(t *testing.T) {
	tests := []struct {
		name string
		body any
		want int
	}{
		{name: "no body", body: nil, want: http.StatusCreated},
		{name: "empty object", body: "{}", want: http.StatusCreated},
		{name: "own project", body: map[string]any{"projectId": "proj-1"}, want: http.StatusCreated},
		{name: "unknown fields are ignored", body: map[string]any{"name": "x"}, want: http.StatusCreated},
		{name: "another project", body: map[string]any{"projectId": "proj-2"}, want: http.StatusNotFound},
		{name: "not JSON", body: "projectId=proj-1", want: http.StatusBadRequest},
		{name: "not an object", body: "[]", want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Project{}, false)
			resp, data := f.call(t, http.MethodPost, "/v1/contexts", testKey, tt.body)
			if tt.want != http.StatusCreated {
				wantError(t, resp, data, tt.want)
				return
			}
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d, want 201: %s", resp.StatusCode, data)
			}
			id := object(t, data)["id"].(string)
			if resp, data := f.call(t, http.MethodGet, "/v1/contexts/"+id, testKey, nil); resp.StatusCode != http.StatusOK {
				t.Errorf("get of the new context: status %d: %s", resp.StatusCode, data)
			}
		})
	}
}

func TestProjects(t *testing.T) {
	f := newFixture(t, Project{Name: "First", OwnerID: "org-1", Concurrency: 3, DefaultTimeout: 900}, true)
	stamp := f.clk.Now().Format(time.RFC3339Nano)
	proj1 := map[string]any{
		"id": "proj-1", "createdAt": stamp, "updatedAt": stamp, "name": "First", "ownerId": "org-1",
		"defaultTimeout": float64(900), "concurrency": float64(3),
	}
	// proj-2 was added with nothing but its id: the defaults show.
	proj2 := map[string]any{
		"id": "proj-2", "createdAt": stamp, "updatedAt": stamp, "name": "proj-2", "ownerId": "emulator-owner",
		"defaultTimeout": float64(300), "concurrency": float64(0),
	}
	tests := []struct {
		name string
		key  string
		path string
		want any // an error code, or the answer
	}{
		{name: "list shows only the key's project", key: testKey, path: "/v1/projects", want: []any{proj1}},
		{name: "list of the other key", key: otherKey, path: "/v1/projects", want: []any{proj2}},
		{name: "get own", key: testKey, path: "/v1/projects/proj-1", want: proj1},
		{name: "get own with a trailing slash", key: otherKey, path: "/v1/projects/proj-2/", want: proj2},
		{name: "get another key's project", key: testKey, path: "/v1/projects/proj-2", want: http.StatusNotFound},
		{name: "get unknown", key: testKey, path: "/v1/projects/nope", want: http.StatusNotFound},
		{name: "usage of another key's project", key: testKey, path: "/v1/projects/proj-2/usage", want: http.StatusNotFound},
		{name: "no key", key: "", path: "/v1/projects", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := f.call(t, http.MethodGet, tt.path, tt.key, nil)
			if code, ok := tt.want.(int); ok {
				wantError(t, resp, data, code)
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", resp.StatusCode, data)
			}
			var got any
			if _, isList := tt.want.([]any); isList {
				got = toAny(array(t, data))
			} else {
				got = object(t, data)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("answer mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func toAny(items []map[string]any) []any {
	out := make([]any, len(items))
	for i, item := range items {
		out[i] = item
	}
	return out
}

func TestProjectUsage(t *testing.T) {
	usage := func(t *testing.T, f *fixture) map[string]any {
		t.Helper()
		resp, data := f.call(t, http.MethodGet, "/v1/projects/proj-1/usage", testKey, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("usage: status %d, want 200: %s", resp.StatusCode, data)
		}
		return object(t, data)
	}
	// Each step makes one session of proj-1 (and adds what it bills to the expected total).
	tests := []struct {
		name        string
		run         func(t *testing.T, f *fixture)
		wantMinutes float64
	}{
		{name: "no sessions", run: func(*testing.T, *fixture) {}, wantMinutes: 0},
		{name: "released at once bills a minute", run: func(t *testing.T, f *fixture) {
			f.release(t, testKey, f.create(t, testKey, nil)["id"].(string))
		}, wantMinutes: 1},
		{name: "released after 30 s bills a minute", run: func(t *testing.T, f *fixture) {
			id := f.create(t, testKey, nil)["id"].(string)
			f.clk.Advance(30 * time.Second)
			f.release(t, testKey, id)
		}, wantMinutes: 1},
		{name: "released after exactly 2 min bills 2", run: func(t *testing.T, f *fixture) {
			id := f.create(t, testKey, nil)["id"].(string)
			f.clk.Advance(2 * time.Minute)
			f.release(t, testKey, id)
		}, wantMinutes: 2},
		{name: "released after 121 s bills 3", run: func(t *testing.T, f *fixture) {
			id := f.create(t, testKey, nil)["id"].(string)
			f.clk.Advance(121 * time.Second)
			f.release(t, testKey, id)
		}, wantMinutes: 3},
		{name: "timed out bills up to expiresAt", run: func(t *testing.T, f *fixture) {
			f.create(t, testKey, map[string]any{"timeout": 60})
			f.clk.Advance(10 * time.Minute)
		}, wantMinutes: 1},
		{name: "still running bills up to now", run: func(t *testing.T, f *fixture) {
			f.create(t, testKey, nil)
			f.clk.Advance(90 * time.Second)
		}, wantMinutes: 2},
		{name: "another project's sessions do not count", run: func(t *testing.T, f *fixture) {
			f.release(t, otherKey, f.create(t, otherKey, nil)["id"].(string))
			f.release(t, testKey, f.create(t, testKey, nil)["id"].(string))
		}, wantMinutes: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Project{}, true)
			tt.run(t, f)
			want := map[string]any{"browserMinutes": tt.wantMinutes, "proxyBytes": float64(0)}
			if d := cmp.Diff(want, usage(t, f)); d != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", d)
			}
		})
	}

	// Usage sums over sessions, and a running session's bill grows with time.
	f := newFixture(t, Project{}, true)
	f.release(t, testKey, f.create(t, testKey, nil)["id"].(string)) // 1
	f.create(t, testKey, nil)
	f.clk.Advance(150 * time.Second) // running: 3
	if got := usage(t, f)["browserMinutes"]; got != float64(4) {
		t.Errorf("browserMinutes = %v, want 4", got)
	}
	f.clk.Advance(time.Minute) // running: 4
	if got := usage(t, f)["browserMinutes"]; got != float64(5) {
		t.Errorf("browserMinutes a minute later = %v, want 5", got)
	}
}
