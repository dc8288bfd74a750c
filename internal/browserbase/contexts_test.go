package browserbase

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testContextID = "ctx-7d2f0b8e-3c4a-4e5b-9f60-1a2b3c4d5e6f"
	testUploadURL = "https://upload.browserbase.com/contexts/" + testContextID + "?token=" + testUploadToken
)

// contextCreateJSON is a create answer as the API document describes it, plus a field this
// client does not know.
const contextCreateJSON = `{
	"id": "` + testContextID + `",
	"uploadUrl": "` + testUploadURL + `",
	"publicKey": "` + testPublicKey + `",
	"cipherAlgorithm": "AES-256-CBC",
	"initializationVectorSize": 16,
	"name": "future field"
}`

// contextJSON is a get answer.
const contextJSON = `{
	"id": "` + testContextID + `",
	"createdAt": "2026-03-01T10:00:00Z",
	"updatedAt": "2026-03-01T10:05:00.25Z",
	"projectId": "proj-1"
}`

func TestCreateContext(t *testing.T) {
	tests := []struct {
		name      string
		projectID string
		wantBody  string
	}{
		{name: "the key's project", wantBody: `{}`},
		{name: "a named project", projectID: "proj-1", wantBody: `{"projectId":"proj-1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{status: http.StatusCreated, body: contextCreateJSON}
			c := newTestClient(t, h)

			got, err := c.CreateContext(context.Background(), testAPIKey, tt.projectID)
			if err != nil {
				t.Fatalf("CreateContext() error: %v", err)
			}
			want := &Context{ID: testContextID, UploadURL: testUploadURL, PublicKey: testPublicKey,
				CipherAlgorithm: "AES-256-CBC", InitializationVectorSize: 16}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("CreateContext() mismatch (-want +got):\n%s", d)
			}
			if got.UploadURL.Reveal() != testUploadURL || got.PublicKey.Reveal() != testPublicKey {
				t.Errorf("Reveal() = %q, %q; want the upload URL and public key", got.UploadURL.Reveal(), got.PublicKey.Reveal())
			}
			req := h.only(t)
			wantReq := recorded{Method: http.MethodPost, Path: "/v1/contexts", APIKey: testAPIKey.Reveal(), ContentType: "application/json",
				Accept: "application/json", UserAgent: "browserbase-session-operator", Body: []byte(tt.wantBody)}
			if d := cmp.Diff(wantReq, req); d != "" {
				t.Errorf("request mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestGetContext(t *testing.T) {
	tests := []struct {
		id, wantPath string
	}{
		{id: testContextID, wantPath: "/v1/contexts/" + testContextID},
		{id: "a/b?c#d", wantPath: "/v1/contexts/a%2Fb%3Fc%23d"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			h := &recorder{status: http.StatusOK, body: contextJSON}
			c := newTestClient(t, h)

			got, err := c.GetContext(context.Background(), testAPIKey, tt.id)
			if err != nil {
				t.Fatalf("GetContext() error: %v", err)
			}
			want := &Context{ID: testContextID, ProjectID: "proj-1",
				CreatedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 3, 1, 10, 5, 0, 250e6, time.UTC)}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("GetContext() mismatch (-want +got):\n%s", d)
			}
			req := h.only(t)
			wantReq := recorded{Method: http.MethodGet, Path: tt.wantPath, APIKey: testAPIKey.Reveal(),
				Accept: "application/json", UserAgent: "browserbase-session-operator", Body: []byte{}}
			if d := cmp.Diff(wantReq, req); d != "" {
				t.Errorf("request mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestDeleteContext(t *testing.T) {
	// Browserbase answers 204 with no body.
	h := &recorder{status: http.StatusNoContent}
	c := newTestClient(t, h)

	if err := c.DeleteContext(context.Background(), testAPIKey, testContextID); err != nil {
		t.Fatalf("DeleteContext() error: %v", err)
	}
	want := recorded{Method: http.MethodDelete, Path: "/v1/contexts/" + testContextID, APIKey: testAPIKey.Reveal(),
		Accept: "application/json", UserAgent: "browserbase-session-operator", Body: []byte{}}
	if d := cmp.Diff(want, h.only(t)); d != "" {
		t.Errorf("request mismatch (-want +got):\n%s", d)
	}
}

func TestContextErrors(t *testing.T) {
	tests := []struct {
		status       int
		wantNotFound bool
	}{
		{status: http.StatusNotFound, wantNotFound: true},
		{status: http.StatusUnauthorized},
		{status: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			h := &recorder{status: tt.status, body: `{"statusCode":` + strconv.Itoa(tt.status) + `,"error":"x","message":"Context not found"}`}
			c := newTestClient(t, h)
			calls := map[string]error{}
			_, calls["create"] = c.CreateContext(context.Background(), testAPIKey, "")
			_, calls["get"] = c.GetContext(context.Background(), testAPIKey, testContextID)
			calls["delete"] = c.DeleteContext(context.Background(), testAPIKey, testContextID)
			for name, err := range calls {
				if StatusCode(err) != tt.status {
					t.Errorf("%s: error = %v, want status %d", name, err, tt.status)
				}
				if IsNotFound(err) != tt.wantNotFound {
					t.Errorf("%s: IsNotFound(%v) = %t, want %t", name, err, IsNotFound(err), tt.wantNotFound)
				}
				assertNoSecrets(t, name+" error", fmt.Sprintf("%v %+v %#v", err, err, err))
			}
		})
	}
}

func TestCreateContextIsNeverRetried(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			var calls atomic.Int32
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(status)
			}))
			if _, err := c.CreateContext(context.Background(), testAPIKey, ""); StatusCode(err) != status {
				t.Errorf("CreateContext() error = %v, want status %d", err, status)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("server received %d creates, want exactly 1", n)
			}
		})
	}
}

func TestContextIDsThatWouldAddressAnotherEndpointAreRefused(t *testing.T) {
	h := &recorder{status: http.StatusOK, body: contextJSON}
	c := newTestClient(t, h)
	for _, id := range []string{"", ".", ".."} {
		if _, err := c.GetContext(context.Background(), "key", id); err == nil {
			t.Errorf("GetContext(%q) succeeded, want an error", id)
		}
		if err := c.DeleteContext(context.Background(), "key", id); err == nil {
			t.Errorf("DeleteContext(%q) succeeded, want an error", id)
		}
	}
	if n := len(h.requests()); n != 0 {
		t.Errorf("%d requests reached the server, want none", n)
	}
}

func TestContextFormattingAndLoggingRedactCredentials(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusCreated, body: contextCreateJSON})
	bctx, err := c.CreateContext(context.Background(), testAPIKey, "")
	if err != nil {
		t.Fatalf("CreateContext() error: %v", err)
	}
	for _, verb := range formatVerbs {
		assertNoSecrets(t, "Sprintf("+verb+", Context)", fmt.Sprintf(verb, *bctx))
		assertNoSecrets(t, "Sprintf("+verb+", *Context)", fmt.Sprintf(verb, bctx))
	}
	for name, v := range map[string]any{"Context": *bctx, "*Context": bctx} {
		got := logJSON(t, "context", v)
		assertNoSecrets(t, "log line of "+name, got)
		for _, want := range []string{testContextID, `"uploadUrl":"[redacted]"`, `"publicKey":"[redacted]"`, `"cipherAlgorithm":"AES-256-CBC"`} {
			if !strings.Contains(got, want) {
				t.Errorf("log line of %s lacks %s:\n%s", name, want, got)
			}
		}
	}
	if bctx.UploadURL.Reveal() != testUploadURL {
		t.Errorf("context after logging holds upload URL %q, want it unchanged", bctx.UploadURL.Reveal())
	}
}
