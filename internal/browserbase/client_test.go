package browserbase

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// Credentials used throughout: none of them may ever show up in an error or a formatted value.
const (
	testAPIKey     Sensitive = "bb_live_TESTAPIKEY_0123456789abcdef"
	testSigningKey           = "SIGNINGKEY_fedcba9876543210"
	testConnectURL           = "wss://connect.usw2.browserbase.com/?signingKey=" + testSigningKey
	testSessionID            = "5c1a8a2e-4c2b-4f55-9d7b-1a2b3c4d5e6f"
)

// sessionJSON is a create answer as Browserbase sends it, with a status this client has never
// heard of and fields it does not know.
const sessionJSON = `{
	"id": "` + testSessionID + `",
	"createdAt": "2026-03-01T10:00:00.123Z",
	"updatedAt": "2026-03-01T10:00:01Z",
	"startedAt": "2026-03-01T10:00:00.5Z",
	"expiresAt": "2026-03-01T10:05:00Z",
	"endedAt": null,
	"projectId": "proj-1",
	"status": "HIBERNATING",
	"proxyBytes": 42,
	"keepAlive": true,
	"region": "us-west-2",
	"contextId": "ctx-1",
	"userMetadata": {"k8s": {"uid": "1234"}},
	"connectUrl": "` + testConnectURL + `",
	"seleniumRemoteUrl": "https://connect.usw2.browserbase.com/webdriver",
	"signingKey": "` + testSigningKey + `",
	"avgCpuUsage": 12,
	"futureObject": {"nested": [1, 2, 3]}
}`

func wantSession() *Session {
	return &Session{
		ID:                testSessionID,
		CreatedAt:         time.Date(2026, 3, 1, 10, 0, 0, 123e6, time.UTC),
		UpdatedAt:         time.Date(2026, 3, 1, 10, 0, 1, 0, time.UTC),
		StartedAt:         time.Date(2026, 3, 1, 10, 0, 0, 500e6, time.UTC),
		ExpiresAt:         time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC),
		EndedAt:           nil,
		ProjectID:         "proj-1",
		Status:            "HIBERNATING",
		ProxyBytes:        42,
		KeepAlive:         true,
		Region:            "us-west-2",
		ContextID:         "ctx-1",
		UserMetadata:      map[string]any{"k8s": map[string]any{"uid": "1234"}},
		ConnectURL:        testConnectURL,
		SeleniumRemoteURL: "https://connect.usw2.browserbase.com/webdriver",
		SigningKey:        testSigningKey,
	}
}

// recorded is what a test handler saw of one request.
type recorded struct {
	Method      string
	Path        string // escaped
	RawQuery    string
	APIKey      string
	ContentType string
	Accept      string
	UserAgent   string
	Body        []byte
}

// recorder is an http.Handler that records every request and answers with status, header and
// body.
type recorder struct {
	status int
	header map[string]string
	body   string

	mu   sync.Mutex
	reqs []recorded
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.reqs = append(h.reqs, recorded{
		Method:      r.Method,
		Path:        r.URL.EscapedPath(),
		RawQuery:    r.URL.RawQuery,
		APIKey:      r.Header.Get("X-BB-API-Key"),
		ContentType: r.Header.Get("Content-Type"),
		Accept:      r.Header.Get("Accept"),
		UserAgent:   r.Header.Get("User-Agent"),
		Body:        body,
	})
	h.mu.Unlock()
	for k, v := range h.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(h.status)
	_, _ = io.WriteString(w, h.body)
}

func (h *recorder) requests() []recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]recorded(nil), h.reqs...)
}

// only returns the one request the handler received.
func (h *recorder) only(t *testing.T) recorded {
	t.Helper()
	reqs := h.requests()
	if len(reqs) != 1 {
		t.Fatalf("handler received %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// newTestClient serves h and returns a client for it.
func newTestClient(t *testing.T, h http.Handler, opts ...Option) *HTTPClient {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewHTTPClient(srv.URL, opts...)
	if err != nil {
		t.Fatalf("NewHTTPClient(%q) error: %v", srv.URL, err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func decodeObject(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("request body %q is not a JSON object: %v", data, err)
	}
	return m
}

func TestCreateSessionSendsRequest(t *testing.T) {
	tests := []struct {
		name     string
		req      CreateSessionRequest
		wantBody map[string]any
	}{
		{
			name:     "empty request sends an empty object",
			req:      CreateSessionRequest{},
			wantBody: map[string]any{},
		},
		{
			name: "every field",
			req: CreateSessionRequest{
				ProjectID:   "proj-1",
				ExtensionID: "ext-1",
				BrowserSettings: &BrowserSettings{
					Context:                 &BrowserContext{ID: "ctx-1", Persist: ptr(true)},
					Viewport:                &Viewport{Width: ptr[int32](1920), Height: ptr[int32](1080)},
					BlockAds:                ptr(true),
					SolveCaptchas:           ptr(false),
					RecordSession:           ptr(true),
					LogSession:              ptr(false),
					AdvancedStealth:         ptr(true),
					OS:                      "linux",
					AllowedDomains:          []string{"example.com", "*.example.org"},
					IgnoreCertificateErrors: ptr(true),
				},
				Timeout:   ptr[int32](3600),
				KeepAlive: ptr(false),
				Proxies: []Proxy{
					{Type: "browserbase", Geolocation: &ProxyGeolocation{Country: "US", State: "NY", City: "New York"}, DomainPattern: ".*\\.example\\.com"},
					{Type: "external", Server: "http://proxy.example.com:8080", Username: "user", Password: "proxy-secret-pw"},
				},
				Region:       "eu-central-1",
				UserMetadata: map[string]any{"k8s": map[string]any{"uid": "1234", "namespace": "default"}},
			},
			wantBody: map[string]any{
				"projectId":   "proj-1",
				"extensionId": "ext-1",
				"browserSettings": map[string]any{
					"context":                 map[string]any{"id": "ctx-1", "persist": true},
					"viewport":                map[string]any{"width": float64(1920), "height": float64(1080)},
					"blockAds":                true,
					"solveCaptchas":           false,
					"recordSession":           true,
					"logSession":              false,
					"advancedStealth":         true,
					"os":                      "linux",
					"allowedDomains":          []any{"example.com", "*.example.org"},
					"ignoreCertificateErrors": true,
				},
				"timeout":   float64(3600),
				"keepAlive": false,
				"proxies": []any{
					map[string]any{
						"type":          "browserbase",
						"geolocation":   map[string]any{"country": "US", "state": "NY", "city": "New York"},
						"domainPattern": ".*\\.example\\.com",
					},
					map[string]any{
						"type":     "external",
						"server":   "http://proxy.example.com:8080",
						"username": "user",
						// A proxy password is a credential of the request: it must reach Browserbase.
						"password": "proxy-secret-pw",
					},
				},
				"region":       "eu-central-1",
				"userMetadata": map[string]any{"k8s": map[string]any{"uid": "1234", "namespace": "default"}},
			},
		},
		{
			name: "unset optional fields are omitted",
			req: CreateSessionRequest{
				BrowserSettings: &BrowserSettings{
					Context:  &BrowserContext{ID: "ctx-2"},
					Viewport: &Viewport{Width: ptr[int32](800)},
				},
				Timeout: ptr[int32](60),
				Proxies: []Proxy{{Type: "browserbase", Geolocation: &ProxyGeolocation{Country: "DE"}}},
			},
			wantBody: map[string]any{
				"browserSettings": map[string]any{
					"context":  map[string]any{"id": "ctx-2"},
					"viewport": map[string]any{"width": float64(800)},
				},
				"timeout": float64(60),
				"proxies": []any{map[string]any{"type": "browserbase", "geolocation": map[string]any{"country": "DE"}}},
			},
		},
		{
			name:     "empty slices and maps are omitted",
			req:      CreateSessionRequest{BrowserSettings: &BrowserSettings{AllowedDomains: []string{}}, Proxies: []Proxy{}, UserMetadata: map[string]any{}},
			wantBody: map[string]any{"browserSettings": map[string]any{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{status: http.StatusCreated, body: sessionJSON}
			c := newTestClient(t, h)

			if _, err := c.CreateSession(context.Background(), testAPIKey, tt.req); err != nil {
				t.Fatalf("CreateSession() error: %v", err)
			}

			got := h.only(t)
			if got.Method != http.MethodPost || got.Path != "/v1/sessions" || got.RawQuery != "" {
				t.Errorf("request = %s %s?%s, want POST /v1/sessions", got.Method, got.Path, got.RawQuery)
			}
			if got.APIKey != testAPIKey.Reveal() {
				t.Errorf("X-BB-API-Key = %q, want the API key", got.APIKey)
			}
			if got.ContentType != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got.ContentType)
			}
			if d := cmp.Diff(tt.wantBody, decodeObject(t, got.Body)); d != "" {
				t.Errorf("request body mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestCreateSessionDecodesAnswer(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusCreated, body: sessionJSON})

	got, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
	if err != nil {
		t.Fatalf("CreateSession() error: %v", err)
	}
	if d := cmp.Diff(wantSession(), got); d != "" {
		t.Errorf("CreateSession() mismatch (-want +got):\n%s", d)
	}
	// Sensitive fields decode to the real value, reachable through Reveal.
	if got.ConnectURL.Reveal() != testConnectURL || got.SigningKey.Reveal() != testSigningKey {
		t.Errorf("Reveal() = %q, %q; want the connect URL and signing key", got.ConnectURL.Reveal(), got.SigningKey.Reveal())
	}
	if got.Status.Ended() {
		t.Errorf("unknown status %q reported as ended", got.Status)
	}
}

func TestGetSession(t *testing.T) {
	tests := []struct {
		name     string
		id       string
		opts     []Option
		wantPath string
		wantUA   string
	}{
		{name: "plain id", id: testSessionID, wantPath: "/v1/sessions/" + testSessionID, wantUA: "browserbase-session-operator"},
		{name: "id is path-escaped", id: "a/b?c#d", wantPath: "/v1/sessions/a%2Fb%3Fc%23d", wantUA: "browserbase-session-operator"},
		{name: "user agent option", id: "x", opts: []Option{WithUserAgent("custom-agent/1.0")}, wantPath: "/v1/sessions/x", wantUA: "custom-agent/1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{status: http.StatusOK, body: sessionJSON}
			c := newTestClient(t, h, tt.opts...)

			got, err := c.GetSession(context.Background(), testAPIKey, tt.id)
			if err != nil {
				t.Fatalf("GetSession() error: %v", err)
			}
			if d := cmp.Diff(wantSession(), got); d != "" {
				t.Errorf("GetSession() mismatch (-want +got):\n%s", d)
			}
			req := h.only(t)
			want := recorded{Method: http.MethodGet, Path: tt.wantPath, APIKey: testAPIKey.Reveal(), Accept: "application/json", UserAgent: tt.wantUA, Body: []byte{}}
			if d := cmp.Diff(want, req); d != "" {
				t.Errorf("request mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestGetSessionBasePathPrefix(t *testing.T) {
	h := &recorder{status: http.StatusOK, body: sessionJSON}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewHTTPClient(srv.URL + "/proxy/bb/")
	if err != nil {
		t.Fatalf("NewHTTPClient() error: %v", err)
	}
	if _, err := c.GetSession(context.Background(), testAPIKey, "abc"); err != nil {
		t.Fatalf("GetSession() error: %v", err)
	}
	if got, want := h.only(t).Path, "/proxy/bb/v1/sessions/abc"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}

func TestReleaseSession(t *testing.T) {
	const releasedJSON = `{"id":"` + testSessionID + `","status":"COMPLETED","endedAt":"2026-03-01T10:02:00Z","projectId":"proj-1"}`
	// Browserbase has answered a release 201 before and answers 200 now: any 2xx is success.
	for _, status := range []int{http.StatusOK, http.StatusCreated} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			h := &recorder{status: status, body: releasedJSON}
			c := newTestClient(t, h)

			got, err := c.ReleaseSession(context.Background(), testAPIKey, testSessionID)
			if err != nil {
				t.Fatalf("ReleaseSession() error: %v", err)
			}
			endedAt := time.Date(2026, 3, 1, 10, 2, 0, 0, time.UTC)
			want := &Session{ID: testSessionID, Status: StatusCompleted, EndedAt: &endedAt, ProjectID: "proj-1"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("ReleaseSession() mismatch (-want +got):\n%s", d)
			}

			req := h.only(t)
			if req.Method != http.MethodPost || req.Path != "/v1/sessions/"+testSessionID {
				t.Errorf("request = %s %s, want POST /v1/sessions/%s", req.Method, req.Path, testSessionID)
			}
			if req.APIKey != testAPIKey.Reveal() || req.ContentType != "application/json" {
				t.Errorf("X-BB-API-Key = %q, Content-Type = %q; want the API key and application/json", req.APIKey, req.ContentType)
			}
			if got, want := string(req.Body), `{"status":"REQUEST_RELEASE"}`; got != want {
				t.Errorf("body = %s, want %s", got, want)
			}
		})
	}
}

func TestListSessions(t *testing.T) {
	const listJSON = `[
		{"id":"s1","status":"RUNNING","projectId":"proj-1","userMetadata":{"k8s":{"uid":"1234"}}},
		{"id":"s2","status":"HIBERNATING","projectId":"proj-1","someNewField":true}
	]`
	query := "user_metadata['k8s']['uid']:'1234'"
	tests := []struct {
		name         string
		opts         ListOptions
		wantRawQuery string
	}{
		{name: "no filter", opts: ListOptions{}, wantRawQuery: ""},
		{name: "status", opts: ListOptions{Status: StatusRunning}, wantRawQuery: "status=RUNNING"},
		{name: "query is URL-encoded", opts: ListOptions{Query: query}, wantRawQuery: "q=user_metadata%5B%27k8s%27%5D%5B%27uid%27%5D%3A%271234%27"},
		{
			name:         "status and query",
			opts:         ListOptions{Status: StatusCompleted, Query: "user_metadata['a b']:'x&y=z'"},
			wantRawQuery: "q=user_metadata%5B%27a+b%27%5D%3A%27x%26y%3Dz%27&status=COMPLETED",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recorder{status: http.StatusOK, body: listJSON}
			c := newTestClient(t, h)

			got, err := c.ListSessions(context.Background(), testAPIKey, tt.opts)
			if err != nil {
				t.Fatalf("ListSessions() error: %v", err)
			}
			want := []Session{
				{ID: "s1", Status: StatusRunning, ProjectID: "proj-1", UserMetadata: map[string]any{"k8s": map[string]any{"uid": "1234"}}},
				{ID: "s2", Status: "HIBERNATING", ProjectID: "proj-1"},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("ListSessions() mismatch (-want +got):\n%s", d)
			}

			req := h.only(t)
			if req.Method != http.MethodGet || req.Path != "/v1/sessions" || req.APIKey != testAPIKey.Reveal() {
				t.Errorf("request = %s %s (key sent: %t), want GET /v1/sessions with the key", req.Method, req.Path, req.APIKey == testAPIKey.Reveal())
			}
			if req.RawQuery != tt.wantRawQuery {
				t.Errorf("raw query = %q, want %q", req.RawQuery, tt.wantRawQuery)
			}
		})
	}
}

func TestListSessionsEmpty(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusOK, body: `[]`})
	got, err := c.ListSessions(context.Background(), testAPIKey, ListOptions{})
	if err != nil {
		t.Fatalf("ListSessions() error: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("ListSessions() = %d sessions, want 0", len(got))
	}
}

func TestAPIError(t *testing.T) {
	long := strings.Repeat("x", 600)
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   *APIError
	}{
		{
			name:   "documented error shape",
			status: http.StatusNotFound,
			header: map[string]string{"x-request-id": "req-123"},
			body:   `{"statusCode":404,"error":"Not Found","message":"Session not found"}`,
			want:   &APIError{Method: "GET", Path: "/v1/sessions/abc", StatusCode: 404, Message: "Session not found", RequestID: "req-123"},
		},
		{
			name:   "only error field",
			status: http.StatusConflict,
			body:   `{"error":"session is busy"}`,
			want:   &APIError{Method: "GET", Path: "/v1/sessions/abc", StatusCode: 409, Message: "session is busy"},
		},
		{
			name:   "plain-text body falls back to the status text",
			status: http.StatusBadGateway,
			body:   "upstream connect error or disconnect/reset before headers",
			want:   &APIError{Method: "GET", Path: "/v1/sessions/abc", StatusCode: 502, Message: "Bad Gateway"},
		},
		{
			name:   "empty body falls back to the status text",
			status: http.StatusServiceUnavailable,
			want:   &APIError{Method: "GET", Path: "/v1/sessions/abc", StatusCode: 503, Message: "Service Unavailable"},
		},
		{
			name:   "message of another type falls back to the status text",
			status: http.StatusBadRequest,
			body:   `{"statusCode":400,"message":["a","b"]}`,
			want:   &APIError{Method: "GET", Path: "/v1/sessions/abc", StatusCode: 400, Message: "Bad Request"},
		},
		{
			name:   "long message is truncated",
			status: http.StatusBadRequest,
			body:   `{"message":"` + long + `"}`,
			want:   &APIError{Method: "GET", Path: "/v1/sessions/abc", StatusCode: 400, Message: long[:512] + "…"},
		},
		{
			name:   "retry-after is kept",
			status: http.StatusTooManyRequests,
			header: map[string]string{"Retry-After": "7", "X-Request-Id": "req-9"},
			body:   `{"statusCode":429,"error":"Too Many Requests","message":"You've exceeded your max concurrent sessions limit"}`,
			want: &APIError{Method: "GET", Path: "/v1/sessions/abc", StatusCode: 429, Message: "You've exceeded your max concurrent sessions limit",
				RetryAfter: 7 * time.Second, RequestID: "req-9"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, &recorder{status: tt.status, header: tt.header, body: tt.body})

			sess, err := c.GetSession(context.Background(), testAPIKey, "abc")
			if sess != nil {
				t.Errorf("GetSession() session = %v, want nil", sess)
			}
			got, ok := errors.AsType[*APIError](err)
			if !ok {
				t.Fatalf("GetSession() error = %v (%T), want *APIError", err, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("APIError mismatch (-want +got):\n%s", d)
			}
			if StatusCode(err) != tt.status {
				t.Errorf("StatusCode() = %d, want %d", StatusCode(err), tt.status)
			}
		})
	}
}

func TestAPIErrorText(t *testing.T) {
	tests := []struct {
		err  *APIError
		want string
	}{
		{
			err:  &APIError{Method: "POST", Path: "/v1/sessions", StatusCode: 429, Message: "limit reached", RequestID: "r1"},
			want: "browserbase: POST /v1/sessions: 429 Too Many Requests: limit reached",
		},
		{
			// A message that only repeats the status text is not repeated.
			err:  &APIError{Method: "GET", Path: "/v1/sessions/x", StatusCode: 404, Message: "Not Found"},
			want: "browserbase: GET /v1/sessions/x: 404 Not Found",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// statusHandler answers each GET /v1/sessions/{code} with that status code.
func statusHandler(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/v1/sessions/"))
	if err != nil {
		http.Error(w, "bad test path", http.StatusTeapot)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, `{"statusCode":%d,"error":%q,"message":"test"}`, code, http.StatusText(code))
}

func TestErrorClassification(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(statusHandler))

	tests := []struct {
		code                                                          int
		wantNotFound, wantUnauthorized, wantRateLimited, wantRejected bool
	}{
		{code: 400, wantRejected: true},
		{code: 401, wantUnauthorized: true},
		{code: 403, wantRejected: true},
		{code: 404, wantNotFound: true, wantRejected: true},
		{code: 408},
		{code: 409},
		{code: 422, wantRejected: true},
		{code: 429, wantRateLimited: true},
		{code: 500},
		{code: 502},
		{code: 503},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			_, err := c.GetSession(context.Background(), testAPIKey, strconv.Itoa(tt.code))
			if StatusCode(err) != tt.code {
				t.Fatalf("StatusCode(%v) = %d, want %d", err, StatusCode(err), tt.code)
			}
			// Classification must see through wrapping.
			for _, e := range []error{err, fmt.Errorf("reconcile: %w", err)} {
				got := [4]bool{IsNotFound(e), IsUnauthorized(e), IsRateLimited(e), IsRejected(e)}
				want := [4]bool{tt.wantNotFound, tt.wantUnauthorized, tt.wantRateLimited, tt.wantRejected}
				if got != want {
					t.Errorf("[IsNotFound IsUnauthorized IsRateLimited IsRejected](%v) = %v, want %v", e, got, want)
				}
			}
		})
	}
}

func TestErrorClassificationOfOtherErrors(t *testing.T) {
	for _, err := range []error{
		nil,
		errors.New("boom"),
		&CallError{Method: "POST", Path: "/v1/sessions", Err: context.DeadlineExceeded},
	} {
		if StatusCode(err) != 0 || IsNotFound(err) || IsUnauthorized(err) || IsRateLimited(err) || IsRejected(err) || RetryAfter(err) != 0 {
			t.Errorf("error %v classified as an API error", err)
		}
	}
}

func TestRetryAfterFromAnswer(t *testing.T) {
	tests := []struct {
		name     string
		header   func(now time.Time) string
		min, max time.Duration
	}{
		{name: "absent", header: func(time.Time) string { return "" }},
		{name: "seconds", header: func(time.Time) string { return "30" }, min: 30 * time.Second, max: 30 * time.Second},
		{name: "seconds with spaces", header: func(time.Time) string { return " 5 " }, min: 5 * time.Second, max: 5 * time.Second},
		{name: "zero", header: func(time.Time) string { return "0" }},
		{name: "negative", header: func(time.Time) string { return "-5" }},
		{name: "absurd seconds are capped", header: func(time.Time) string { return "86400" }, min: time.Hour, max: time.Hour},
		{name: "max int64 seconds are capped", header: func(time.Time) string { return "9223372036854775807" }, min: time.Hour, max: time.Hour},
		{name: "garbage", header: func(time.Time) string { return "soon" }},
		{name: "fraction", header: func(time.Time) string { return "1.5" }},
		{
			name:   "HTTP date",
			header: func(now time.Time) string { return now.Add(2 * time.Minute).UTC().Format(http.TimeFormat) },
			// The header has a 1 s resolution and the call takes a moment.
			min: 2*time.Minute - 10*time.Second, max: 2 * time.Minute,
		},
		{
			name:   "far HTTP date is capped",
			header: func(now time.Time) string { return now.Add(48 * time.Hour).UTC().Format(http.TimeFormat) },
			min:    time.Hour, max: time.Hour,
		},
		{name: "past HTTP date", header: func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := tt.header(time.Now())
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if header != "" {
					w.Header().Set("Retry-After", header)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			})
			c := newTestClient(t, h)

			_, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
			if !IsRateLimited(err) {
				t.Fatalf("CreateSession() error = %v, want a 429", err)
			}
			if got := RetryAfter(err); got < tt.min || got > tt.max {
				t.Errorf("RetryAfter() with Retry-After %q = %v, want in [%v, %v]", header, got, tt.min, tt.max)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{"3600", time.Hour},
		{"3601", time.Hour},
		{"-1", 0},
		{"later", 0},
		{"Sun, 01 Mar 2026 10:01:30 GMT", 90 * time.Second},                                 // IMF-fixdate
		{"Sunday, 01-Mar-26 10:00:10 GMT", 10 * time.Second},                                // RFC 850
		{"Sun Mar  1 10:00:20 2026", 20 * time.Second},                                      // asctime
		{"Mon, 02 Mar 2026 10:00:00 GMT", time.Hour},                                        // a day away: capped
		{"Sun, 01 Mar 2026 09:00:00 GMT", 0},                                                // past
		{now.Add(45 * time.Second).Format(time.RFC3339), 0},                                 // not an HTTP date
		{"Sun, 01 Mar 2026 10:01:30 GMT garbage", 0},                                        // trailing garbage
		{"  Sun, 01 Mar 2026 10:01:30 GMT  ", 90 * time.Second},                             // surrounding space
		{"Sun, 01 Mar 2026 10:00:00 GMT", 0},                                                // now
		{"1", time.Second},                                                                  // smallest positive
		{"0000000000000000000000000000000000000000000000000000000000042", 42 * time.Second}, // leading zeros
		{"99999999999999999999", time.Hour},                                                 // beyond int64: capped, not "now"
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.header, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// formatVerbs are the fmt verbs a log line or an error wrap might use.
var formatVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"}

// assertNoSecrets fails if any of the secrets, or their hex encoding, is in text.
func assertNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, secret := range []string{testAPIKey.Reveal(), testSigningKey, "proxy-secret-pw", "signingKey="} {
		for _, form := range []string{secret, hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret)))} {
			if strings.Contains(text, form) {
				t.Errorf("%s leaks %q: %s", what, secret, text)
			}
		}
	}
}

func TestSensitiveFormatting(t *testing.T) {
	s := Sensitive(testSigningKey)
	for _, verb := range append(formatVerbs, "%d", "%10.3s", "%-20v") {
		got := fmt.Sprintf(verb, s)
		assertNoSecrets(t, "Sprintf("+verb+")", got)
		if !strings.Contains(got, "[redacted]") {
			t.Errorf("Sprintf(%q, Sensitive) = %q, want [redacted]", verb, got)
		}
	}
	if got := fmt.Sprint(s) + s.String() + s.GoString(); strings.Contains(got, testSigningKey) {
		t.Errorf("Sprint/String/GoString leak the value: %s", got)
	}
	if s.Reveal() != testSigningKey {
		t.Errorf("Reveal() = %q, want the value", s.Reveal())
	}
	// On the wire the value is sent as is: JSON is how it reaches Browserbase.
	b, err := json.Marshal(struct{ P Sensitive }{s})
	if err != nil || string(b) != `{"P":"`+testSigningKey+`"}` {
		t.Errorf("json.Marshal() = %s, %v; want the value in clear", b, err)
	}
}

func TestSessionFormattingRedactsCredentials(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusCreated, body: sessionJSON})
	sess, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
	if err != nil {
		t.Fatalf("CreateSession() error: %v", err)
	}
	// The decoded session does hold the credentials, so the checks below mean something.
	if sess.SigningKey.Reveal() != testSigningKey || !strings.Contains(sess.ConnectURL.Reveal(), "signingKey=") {
		t.Fatalf("session does not hold the credentials: %q %q", sess.SigningKey.Reveal(), sess.ConnectURL.Reveal())
	}
	for _, verb := range formatVerbs {
		for name, v := range map[string]any{"Session": *sess, "*Session": sess, "[]Session": []Session{*sess}} {
			got := fmt.Sprintf(verb, v)
			assertNoSecrets(t, fmt.Sprintf("Sprintf(%s, %s)", verb, name), got)
			if verb == "%v" || verb == "%+v" || verb == "%#v" {
				if !strings.Contains(got, "[redacted]") {
					t.Errorf("Sprintf(%s, %s) = %s, want [redacted] in place of the credentials", verb, name, got)
				}
				if !strings.Contains(got, testSessionID) {
					t.Errorf("Sprintf(%s, %s) = %s, want the session id", verb, name, got)
				}
			}
		}
	}
}

func TestCreateRequestFormattingRedactsProxyPassword(t *testing.T) {
	req := CreateSessionRequest{Proxies: []Proxy{{Type: "external", Server: "http://p:1", Username: "u", Password: "proxy-secret-pw"}}}
	for _, verb := range formatVerbs {
		assertNoSecrets(t, "Sprintf("+verb+", CreateSessionRequest)", fmt.Sprintf(verb, req))
		assertNoSecrets(t, "Sprintf("+verb+", *CreateSessionRequest)", fmt.Sprintf(verb, &req))
	}
}

// blockingHandler blocks every request until unblock is called or the client goes away.
// Callers register unblock with t.Cleanup after starting the server: cleanups run last-in
// first-out, so handlers are released before httptest.Server.Close waits for them.
func blockingHandler(writeHeaderFirst bool) (h http.Handler, unblock func()) {
	ch := make(chan struct{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if writeHeaderFirst {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"id":`)
			w.(http.Flusher).Flush()
		}
		select {
		case <-ch:
		case <-r.Context().Done():
		}
	}), func() { close(ch) }
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		name             string
		writeHeaderFirst bool
		// An http.Client without a Timeout of its own, so WithTimeout alone bounds the call.
		noBackstop bool
	}{
		{name: "no answer"},
		{name: "answer body stalls", writeHeaderFirst: true},
		{name: "no answer, no http.Client timeout", noBackstop: true},
		{name: "answer body stalls, no http.Client timeout", writeHeaderFirst: true, noBackstop: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []Option{WithTimeout(50 * time.Millisecond)}
			if tt.noBackstop {
				opts = append(opts, WithHTTPClient(&http.Client{}))
			}
			h, unblock := blockingHandler(tt.writeHeaderFirst)
			c := newTestClient(t, h, opts...)
			t.Cleanup(unblock)

			type result struct {
				sess *Session
				err  error
			}
			done := make(chan result, 1)
			start := time.Now()
			go func() {
				sess, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
				done <- result{sess, err}
			}()
			var res result
			select {
			case res = <-done:
			case <-time.After(5 * time.Second):
				// The cleanup's unblock then lets the call and the server finish.
				t.Fatal("CreateSession() did not return within 5s with WithTimeout(50ms)")
			}
			elapsed := time.Since(start)

			if res.sess != nil {
				t.Errorf("CreateSession() session = %v, want nil", res.sess)
			}
			err := res.err
			callErr, ok := errors.AsType[*CallError](err)
			if !ok {
				t.Fatalf("CreateSession() error = %v (%T), want *CallError", err, err)
			}
			if callErr.Method != http.MethodPost || callErr.Path != "/v1/sessions" {
				t.Errorf("CallError names %s %s, want POST /v1/sessions", callErr.Method, callErr.Path)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("CreateSession() error = %v, want it to wrap context.DeadlineExceeded", err)
			}
			if StatusCode(err) != 0 {
				t.Errorf("StatusCode() = %d, want 0 for a call without an answer", StatusCode(err))
			}
			if elapsed > 2*time.Second {
				t.Errorf("CreateSession() returned after %v, want about 50ms", elapsed)
			}
			assertNoSecrets(t, "timeout error", fmt.Sprintf("%v %+v %#v", err, err, err))
		})
	}
}

func TestCallerCancellation(t *testing.T) {
	h, unblock := blockingHandler(false)
	c := newTestClient(t, h)
	t.Cleanup(unblock)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)

	_, err := c.GetSession(ctx, testAPIKey, "abc")
	if _, ok := errors.AsType[*CallError](err); !ok || !errors.Is(err, context.Canceled) {
		t.Errorf("GetSession() error = %v (%T), want a *CallError wrapping context.Canceled", err, err)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := NewHTTPClient(url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListSessions(context.Background(), testAPIKey, ListOptions{})
	callErr, ok := errors.AsType[*CallError](err)
	if !ok {
		t.Fatalf("ListSessions() error = %v (%T), want *CallError", err, err)
	}
	if callErr.Method != http.MethodGet || callErr.Path != "/v1/sessions" {
		t.Errorf("CallError names %s %s, want GET /v1/sessions", callErr.Method, callErr.Path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("ListSessions() error = %v, want it to wrap ECONNREFUSED", err)
	}
	// The *url.Error ("Get \"http://…\": …") is dropped: the CallError names the call already.
	if _, ok := errors.AsType[*neturl.Error](err); ok {
		t.Errorf("ListSessions() error = %v, want the *url.Error unwrapped", err)
	}
	assertNoSecrets(t, "connection error", fmt.Sprintf("%v %+v %#v", err, err, err))
}

func TestBoundedAnswer(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    []byte
		wantErr bool
	}{
		{name: "one byte over the limit", status: http.StatusOK, body: jsonArrayOfSize(maxResponseBytes + 1), wantErr: true},
		{name: "large error answer", status: http.StatusInternalServerError, body: bytes.Repeat([]byte("e"), maxResponseBytes+100), wantErr: true},
		{name: "exactly the limit is read", status: http.StatusOK, body: jsonArrayOfSize(maxResponseBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write(tt.body)
			}))

			got, err := c.ListSessions(context.Background(), testAPIKey, ListOptions{})
			if !tt.wantErr {
				if err != nil || len(got) != 0 {
					t.Errorf("ListSessions() = %d sessions, %v; want 0, nil", len(got), err)
				}
				return
			}
			if _, ok := errors.AsType[*CallError](err); !ok {
				t.Errorf("ListSessions() error = %v (%T), want *CallError", err, err)
			}
		})
	}
}

// TestEndlessAnswer checks the client stops reading an answer that never ends, rather than
// reading it all into memory.
func TestEndlessAnswer(t *testing.T) {
	const giveUp = 256 << 20 // the handler stops here, so a client that reads everything fails
	var written atomic.Int64
	handlerDone := make(chan struct{})
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for written.Load() < giveUp {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))

	_, err := c.ListSessions(context.Background(), testAPIKey, ListOptions{})
	if _, ok := errors.AsType[*CallError](err); !ok {
		t.Errorf("ListSessions() error = %v (%T), want *CallError", err, err)
	}
	select {
	case <-handlerDone:
	case <-time.After(10 * time.Second):
		t.Fatal("handler still writing 10s after the client gave up")
	}
	// The client read a little over 8 MiB; what else got written sits in socket buffers.
	if n := written.Load(); n > 64<<20 {
		t.Errorf("server wrote %d MiB before the client hung up, want the client to stop after 8 MiB", n>>20)
	}
}

// jsonArrayOfSize returns an empty JSON array padded with spaces to n bytes.
func jsonArrayOfSize(n int) []byte {
	b := bytes.Repeat([]byte(" "), n)
	b[0], b[n-1] = '[', ']'
	return b
}

func TestUndecodableAnswer(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusCreated, body: `<html>` + testSigningKey + `</html>`})
	_, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
	if _, ok := errors.AsType[*CallError](err); !ok {
		t.Fatalf("CreateSession() error = %v (%T), want *CallError", err, err)
	}
	var syntaxErr *json.SyntaxError
	if !errors.As(err, &syntaxErr) {
		t.Errorf("CreateSession() error = %v, want it to wrap a *json.SyntaxError", err)
	}
	assertNoSecrets(t, "decode error", fmt.Sprintf("%v %+v %#v", err, err, err))
}

func TestErrorsDoNotLeakCredentials(t *testing.T) {
	h := &recorder{status: http.StatusUnauthorized, header: map[string]string{"x-request-id": "r1"}, body: `{"statusCode":401,"error":"Unauthorized","message":"Invalid API key"}`}
	c := newTestClient(t, h)
	req := CreateSessionRequest{Proxies: []Proxy{{Type: "external", Server: "http://p:1", Username: "u", Password: "proxy-secret-pw"}}}

	var errs []error
	_, err := c.CreateSession(context.Background(), testAPIKey, req)
	errs = append(errs, err)
	_, err = c.GetSession(context.Background(), testAPIKey, testSessionID)
	errs = append(errs, err)
	_, err = c.ReleaseSession(context.Background(), testAPIKey, testSessionID)
	errs = append(errs, err)
	_, err = c.ListSessions(context.Background(), testAPIKey, ListOptions{Status: StatusRunning})
	errs = append(errs, err)

	for _, err := range errs {
		if !IsUnauthorized(err) {
			t.Errorf("error = %v, want a 401", err)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			assertNoSecrets(t, "Sprintf("+verb+", err)", fmt.Sprintf(verb, err))
		}
	}
	// The credentials did reach the server, so their absence above is not an accident.
	reqs := h.requests()
	if len(reqs) != 4 || reqs[0].APIKey != testAPIKey.Reveal() || !bytes.Contains(reqs[0].Body, []byte("proxy-secret-pw")) {
		t.Errorf("server did not receive the credentials: %d requests", len(reqs))
	}
}

func TestCreateSessionIsNeverRetried(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			var calls atomic.Int32
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(status)
			}))

			_, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
			if StatusCode(err) != status {
				t.Errorf("CreateSession() error = %v, want status %d", err, status)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("server received %d creates, want exactly 1", n)
			}
		})
	}
}

func TestCreateSessionIsNotRetriedAfterDroppedConnection(t *testing.T) {
	var creates atomic.Int32
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, `[]`)
			return
		}
		creates.Add(1)
		_, _ = io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	}))
	// A first call leaves a kept-alive connection, the kind http.Transport retries on.
	if _, err := c.ListSessions(context.Background(), testAPIKey, ListOptions{}); err != nil {
		t.Fatalf("ListSessions() error: %v", err)
	}

	_, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
	if _, ok := errors.AsType[*CallError](err); !ok {
		t.Errorf("CreateSession() error = %v (%T), want *CallError", err, err)
	}
	if n := creates.Load(); n != 1 {
		t.Errorf("server received %d creates, want exactly 1", n)
	}
}

func TestNewHTTPClient(t *testing.T) {
	tests := []struct {
		baseURL string
		wantErr bool
	}{
		{baseURL: DefaultBaseURL},
		{baseURL: "https://api.browserbase.com/"},
		{baseURL: "http://127.0.0.1:8080"},
		{baseURL: "https://gateway.example.com/browserbase/"},
		{baseURL: "", wantErr: true},
		{baseURL: "/v1", wantErr: true},
		{baseURL: "api.browserbase.com", wantErr: true},
		{baseURL: "//api.browserbase.com", wantErr: true},
		{baseURL: "ftp://api.browserbase.com", wantErr: true},
		{baseURL: "wss://api.browserbase.com", wantErr: true},
		{baseURL: "https://", wantErr: true},
		{baseURL: "https:api.browserbase.com", wantErr: true},
		{baseURL: "http://[::1", wantErr: true},
		{baseURL: "https://api.browserbase.com/%zz", wantErr: true},
	}
	for _, tt := range tests {
		c, err := NewHTTPClient(tt.baseURL)
		if gotErr := err != nil; gotErr != tt.wantErr {
			t.Errorf("NewHTTPClient(%q) error = %v, want error: %t", tt.baseURL, err, tt.wantErr)
		}
		if (c == nil) != tt.wantErr {
			t.Errorf("NewHTTPClient(%q) client = %v, want nil: %t", tt.baseURL, c, tt.wantErr)
		}
	}
}

func TestNewHTTPClientErrorHidesPassword(t *testing.T) {
	_, err := NewHTTPClient("ftp://user:hunter2-secret@example.com/")
	if err == nil {
		t.Fatal("NewHTTPClient() accepted an ftp URL")
	}
	if strings.Contains(err.Error(), "hunter2-secret") {
		t.Errorf("error %q contains the URL's password", err)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		raw  Sensitive
		want string
	}{
		{raw: "wss://connect.usw2.browserbase.com/?signingKey=abc", want: "wss://connect.usw2.browserbase.com/"},
		{raw: "wss://connect.usw2.browserbase.com?signingKey=abc&apiKey=def", want: "wss://connect.usw2.browserbase.com"},
		{raw: "https://api.browserbase.com/v1/sessions/abc?apiKey=bb_live_x", want: "https://api.browserbase.com/v1/sessions/abc"},
		{raw: "https://connect.browserbase.com/debug#token=abc", want: "https://connect.browserbase.com/debug"},
		{raw: "wss://user:pass@connect.browserbase.com/x?signingKey=abc#frag", want: "wss://connect.browserbase.com/x"},
		{raw: "wss://onlyuser@connect.browserbase.com/", want: "wss://connect.browserbase.com/"},
		{raw: "https://connect.usw2.browserbase.com/webdriver", want: "https://connect.usw2.browserbase.com/webdriver"},
		{raw: "wss://connect.browserbase.com/?", want: "wss://connect.browserbase.com/"},
		{raw: "", want: ""},
		{raw: "wss://connect.browserbase.com/%zz?signingKey=abc", want: ""},
		{raw: "wss://[::1?signingKey=abc", want: ""},
		{raw: "http://a b.com/?signingKey=abc", want: ""},
		{raw: "mailto:user:signingKey@example.com", want: ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.raw); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.raw.Reveal(), got, tt.want)
		}
	}
}

func TestMetadataQuery(t *testing.T) {
	tests := []struct {
		value  string
		path   []string
		want   string
		wantOK bool
	}{
		{value: "1234", path: []string{"k8s", "uid"}, want: "user_metadata['k8s']['uid']:'1234'", wantOK: true},
		{value: "x", path: []string{"a"}, want: "user_metadata['a']:'x'", wantOK: true},
		{value: "with space", path: []string{"a b"}, want: "user_metadata['a b']:'with space'", wantOK: true},
		{value: "it's", path: []string{"k8s", "uid"}},
		{value: `back\slash`, path: []string{"k8s", "uid"}},
		{value: "1234", path: []string{"k8s", "u'id"}},
		{value: "1234", path: []string{`k8s\`, "uid"}},
		{value: "1234"}, // no path: not a query Browserbase accepts
	}
	for _, tt := range tests {
		got, ok := MetadataQuery(tt.value, tt.path...)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("MetadataQuery(%q, %q) = %q, %t; want %q, %t", tt.value, tt.path, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestSessionStatusEnded(t *testing.T) {
	tests := []struct {
		status SessionStatus
		want   bool
	}{
		{StatusPending, false},
		{StatusRunning, false},
		{StatusError, true},
		{StatusTimedOut, true},
		{StatusCompleted, true},
		{"HIBERNATING", false},
		{"", false},
		{"completed", false},
	}
	for _, tt := range tests {
		if got := tt.status.Ended(); got != tt.want {
			t.Errorf("SessionStatus(%q).Ended() = %t, want %t", tt.status, got, tt.want)
		}
	}
}

func TestIDsThatWouldAddressAnotherEndpointAreRefused(t *testing.T) {
	h := &recorder{status: http.StatusOK, body: `{}`}
	c := newTestClient(t, h)
	for _, id := range []string{"", ".", ".."} {
		if _, err := c.ReleaseSession(context.Background(), "key", id); err == nil {
			t.Errorf("ReleaseSession(%q) succeeded, want an error", id)
		}
		if _, err := c.GetSession(context.Background(), "key", id); err == nil {
			t.Errorf("GetSession(%q) succeeded, want an error", id)
		}
	}
	if n := len(h.requests()); n != 0 {
		t.Errorf("%d requests reached the server, want none (a release of \".\" is a create)", n)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	elsewhere := &recorder{status: http.StatusCreated, body: `{"id":"stolen"}`}
	target := httptest.NewServer(elsewhere)
	t.Cleanup(target.Close)
	for name, opts := range map[string][]Option{
		"default client":       nil,
		"caller's http.Client": {WithHTTPClient(&http.Client{})},
	} {
		t.Run(name, func(t *testing.T) {
			redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/v1/sessions", http.StatusTemporaryRedirect)
			})
			c := newTestClient(t, redirect, opts...)
			_, err := c.CreateSession(context.Background(), "secret-api-key", CreateSessionRequest{})
			if StatusCode(err) != http.StatusTemporaryRedirect {
				t.Errorf("CreateSession error = %v, want the 307 as an APIError", err)
			}
			if n := len(elsewhere.requests()); n != 0 {
				t.Errorf("the redirect target received %d requests (and the API key), want none", n)
			}
		})
	}
}

func TestLongErrorMessagesAreCutOnACharacterBoundary(t *testing.T) {
	long := "x" + strings.Repeat("é", 400) // byte 512 falls inside a two-byte character
	h := &recorder{status: http.StatusBadRequest, body: `{"message":"` + long + `"}`}
	_, err := newTestClient(t, h).CreateSession(context.Background(), "key", CreateSessionRequest{})
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok {
		t.Fatalf("error = %v, want an APIError", err)
	}
	if !utf8.ValidString(apiErr.Message) || !strings.HasSuffix(apiErr.Message, "…") || len(apiErr.Message) > 512+len("…") {
		t.Errorf("message = %q (%d bytes), want valid UTF-8 of at most 512 bytes plus an ellipsis", apiErr.Message, len(apiErr.Message))
	}
}
