package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

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

func TestCreateSessionOutsideTheProjectsRegions(t *testing.T) {
	f := newFixture(t, Project{Regions: []string{"us-west-2"}}, false)
	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, map[string]any{"region": "eu-central-1"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "Region eu-central-1 is not available for this project") {
		t.Errorf("create in eu-central-1 = %d %s, want 400 naming the region", resp.StatusCode, data)
	}
	f.create(t, testKey, map[string]any{"region": "us-west-2"})
	f.create(t, testKey, map[string]any{}) // the default region is allowed
}

func TestListUnknownStatusRefused(t *testing.T) {
	f := newFixture(t, Project{}, false)
	f.create(t, testKey, nil)
	for _, status := range []string{"HIBERNATING", "running", "REQUEST_RELEASE"} {
		resp, data := f.call(t, http.MethodGet, "/v1/sessions?status="+status, testKey, nil)
		wantError(t, resp, data, http.StatusBadRequest)
	}
	for _, status := range []string{"PENDING", "RUNNING", "ERROR", "TIMED_OUT", "COMPLETED"} {
		if resp, data := f.call(t, http.MethodGet, "/v1/sessions?status="+status, testKey, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("status=%s: %d, want 200: %s", status, resp.StatusCode, data)
		}
	}
}

func TestListLag(t *testing.T) {
	f := newFixture(t, Project{}, true)
	old := f.create(t, testKey, nil)["id"].(string)
	f.clk.Advance(10 * time.Second)
	f.emu.SetFaults(Faults{ListLag: 5 * time.Second})
	fresh := f.create(t, testKey, map[string]any{"userMetadata": map[string]any{"k": "v"}})["id"].(string)
	listed := func(query string) []string {
		t.Helper()
		resp, data := f.call(t, http.MethodGet, "/v1/sessions"+query, testKey, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("list: %d %s", resp.StatusCode, data)
		}
		var ids []string
		for _, item := range array(t, data) {
			ids = append(ids, item["id"].(string))
		}
		return ids
	}
	q := "?q=" + url.QueryEscape("user_metadata['k']:'v'")
	if got := listed(""); !cmp.Equal(got, []string{old}) {
		t.Errorf("list right after create = %v, want only the older session %s", got, old)
	}
	if got := listed(q); len(got) != 0 {
		t.Errorf("q right after create = %v, want none", got)
	}
	if resp, data := f.call(t, http.MethodGet, "/v1/sessions/"+fresh, testKey, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("get by id during the lag: %d, want 200: %s", resp.StatusCode, data)
	}
	f.clk.Advance(5 * time.Second)
	if got := listed(""); !cmp.Equal(got, []string{fresh, old}) {
		t.Errorf("list after the lag = %v, want [%s %s]", got, fresh, old)
	}
	if got := listed(q); !cmp.Equal(got, []string{fresh}) {
		t.Errorf("q after the lag = %v, want [%s]", got, fresh)
	}
}

// Releasing a session that already ended is answered 200 with the session unchanged: a timed-out
// session stays TIMED_OUT, its endedAt the timeout.
func TestReleaseEndedSession(t *testing.T) {
	f := newFixture(t, Project{}, true)
	created := f.create(t, testKey, map[string]any{"timeout": 60})
	id := created["id"].(string)
	expiresAt := parseTime(t, created["expiresAt"])
	f.clk.Advance(2 * time.Minute)
	resp, data := f.release(t, testKey, id)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("release of a timed-out session: %d, want 200: %s", resp.StatusCode, data)
	}
	got := object(t, data)
	if got["status"] != "TIMED_OUT" || !parseTime(t, got["endedAt"]).Equal(expiresAt) {
		t.Errorf("release answer: status %v endedAt %v, want TIMED_OUT %v", got["status"], got["endedAt"], expiresAt)
	}
}

// Two live sessions persisting into one context are marked: Browserbase does not say which
// state would win, so the operator's tests check it never happens.
func TestSharedPersistedContext(t *testing.T) {
	f := newFixture(t, Project{}, false)
	persisting := map[string]any{"browserSettings": map[string]any{"context": map[string]any{"id": "ctx-1", "persist": true}}}
	first := f.create(t, testKey, persisting)["id"].(string)
	reading := f.create(t, testKey, map[string]any{"browserSettings": map[string]any{"context": map[string]any{"id": "ctx-1"}}})["id"].(string)
	second := f.create(t, testKey, persisting)["id"].(string)
	for id, want := range map[string]bool{first: false, reading: false, second: true} {
		if s, _ := f.emu.Session(id); s.SharedContext != want {
			t.Errorf("session %s: SharedContext %v, want %v", id, s.SharedContext, want)
		}
	}
	f.release(t, testKey, first)
	f.release(t, testKey, second)
	third := f.create(t, testKey, persisting)["id"].(string)
	if s, _ := f.emu.Session(third); s.SharedContext || !s.PersistsContext {
		t.Errorf("after the others ended: SharedContext %v PersistsContext %v, want false, true", s.SharedContext, s.PersistsContext)
	}
}
