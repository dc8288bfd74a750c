package browserbase

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testProjectID = "proj-0c6f5a2e-1b3d-4e8f-9a7b-2c4d6e8f0a1b"

// projectJSON is a project as the API document describes it, with the fields this client does
// not read.
const projectJSON = `{
	"id": "` + testProjectID + `",
	"createdAt": "2026-03-01T10:00:00Z",
	"updatedAt": "2026-03-01T10:00:00Z",
	"name": "production",
	"ownerId": "owner-1",
	"defaultTimeout": 3600,
	"concurrency": 25
}`

func wantProject() Project {
	return Project{ID: testProjectID, Name: "production", DefaultTimeout: 3600, Concurrency: 25}
}

func TestGetProject(t *testing.T) {
	tests := []struct {
		id, wantPath string
	}{
		{id: testProjectID, wantPath: "/v1/projects/" + testProjectID},
		{id: "a/b?c#d", wantPath: "/v1/projects/a%2Fb%3Fc%23d"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			h := &recorder{status: http.StatusOK, body: projectJSON}
			c := newTestClient(t, h)

			got, err := c.GetProject(context.Background(), testAPIKey, tt.id)
			if err != nil {
				t.Fatalf("GetProject() error: %v", err)
			}
			want := wantProject()
			if d := cmp.Diff(&want, got); d != "" {
				t.Errorf("GetProject() mismatch (-want +got):\n%s", d)
			}
			wantReq := recorded{Method: http.MethodGet, Path: tt.wantPath, APIKey: testAPIKey.Reveal(),
				Accept: "application/json", UserAgent: "browserbase-session-operator", Body: []byte{}}
			if d := cmp.Diff(wantReq, h.only(t)); d != "" {
				t.Errorf("request mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestListProjects(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Project
	}{
		{name: "the key's project", body: `[` + projectJSON + `]`, want: []Project{wantProject()}},
		{name: "none", body: `[]`, want: []Project{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{status: http.StatusOK, body: tt.body}
			c := newTestClient(t, h)

			got, err := c.ListProjects(context.Background(), testAPIKey)
			if err != nil {
				t.Fatalf("ListProjects() error: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ListProjects() mismatch (-want +got):\n%s", d)
			}
			wantReq := recorded{Method: http.MethodGet, Path: "/v1/projects", APIKey: testAPIKey.Reveal(),
				Accept: "application/json", UserAgent: "browserbase-session-operator", Body: []byte{}}
			if d := cmp.Diff(wantReq, h.only(t)); d != "" {
				t.Errorf("request mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestProjectErrors(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		retryAfter     string
		message        string
		wantNotFound   bool
		wantUnauth     bool
		wantRateLimit  bool
		wantRetryAfter time.Duration
	}{
		{name: "refused key", status: http.StatusUnauthorized, message: "Invalid API key", wantUnauth: true},
		{name: "unknown project", status: http.StatusNotFound, message: "Project not found", wantNotFound: true},
		{name: "rate limited", status: http.StatusTooManyRequests, retryAfter: "7", message: "Too many requests",
			wantRateLimit: true, wantRetryAfter: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{status: tt.status, header: map[string]string{},
				body: `{"statusCode":` + strconv.Itoa(tt.status) + `,"error":"x","message":"` + tt.message + `"}`}
			if tt.retryAfter != "" {
				h.header["Retry-After"] = tt.retryAfter
			}
			c := newTestClient(t, h)
			project, errGet := c.GetProject(context.Background(), testAPIKey, testProjectID)
			if project != nil {
				t.Errorf("GetProject() = %+v on a %d, want nil", project, tt.status)
			}
			projects, errList := c.ListProjects(context.Background(), testAPIKey)
			if projects != nil {
				t.Errorf("ListProjects() = %+v on a %d, want nil", projects, tt.status)
			}
			calls := map[string]error{"get": errGet, "list": errList}
			for name, err := range calls {
				if StatusCode(err) != tt.status {
					t.Errorf("%s: error = %v, want status %d", name, err, tt.status)
				}
				gotClass := [3]bool{IsNotFound(err), IsUnauthorized(err), IsRateLimited(err)}
				wantClass := [3]bool{tt.wantNotFound, tt.wantUnauth, tt.wantRateLimit}
				if gotClass != wantClass {
					t.Errorf("%s: [IsNotFound IsUnauthorized IsRateLimited](%v) = %v, want %v", name, err, gotClass, wantClass)
				}
				if got := RetryAfter(err); got != tt.wantRetryAfter {
					t.Errorf("%s: RetryAfter(%v) = %v, want %v", name, err, got, tt.wantRetryAfter)
				}
				assertNoSecrets(t, name+" error", fmt.Sprintf("%v %+v %#v", err, err, err))
			}
		})
	}
}

func TestProjectIDsThatWouldAddressAnotherEndpointAreRefused(t *testing.T) {
	h := &recorder{status: http.StatusOK, body: projectJSON}
	c := newTestClient(t, h)
	for _, id := range []string{"", ".", ".."} {
		if _, err := c.GetProject(context.Background(), testAPIKey, id); err == nil {
			t.Errorf("GetProject(%q) succeeded, want an error", id)
		}
	}
	if n := len(h.requests()); n != 0 {
		t.Errorf("%d requests reached the server, want none", n)
	}
}
