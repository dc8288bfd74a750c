package emulator

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
