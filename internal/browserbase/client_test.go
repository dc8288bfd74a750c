package browserbase

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

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
	for _, raw := range []string{
		"ftp://user:hunter2-secret@example.com/",
		"http://user:hunter2-secret@[::1",                     // does not parse
		"https://user:hunter2-secret@api.example.com/%zz",     // does not parse
		"https://api.example.com/%zz?token=hunter2-secret",    // does not parse
		"api.example.com/v1?token=hunter2-secret#also-secret", // not absolute
	} {
		_, err := NewHTTPClient(raw)
		if err == nil {
			t.Fatalf("NewHTTPClient(%q) succeeded, want an error", raw)
		}
		if text := fmt.Sprintf("%v %+v", err, err); strings.Contains(text, "hunter2-secret") {
			t.Errorf("NewHTTPClient(%q) error %q contains a credential of the URL", raw, text)
		}
	}
}

func TestBaseURLHidesCredentials(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{raw: DefaultBaseURL, want: DefaultBaseURL},
		{raw: "https://gateway.example.com/browserbase/", want: "https://gateway.example.com/browserbase"},
		{raw: "https://user:hunter2-secret@gateway.example.com/bb", want: "https://gateway.example.com/bb"},
		{raw: "http://127.0.0.1:4010/?token=hunter2-secret#x", want: "http://127.0.0.1:4010/"},
	}
	for _, tt := range tests {
		c, err := NewHTTPClient(tt.raw)
		if err != nil {
			t.Fatalf("NewHTTPClient(%q) error: %v", tt.raw, err)
		}
		if got := c.BaseURL(); got != tt.want {
			t.Errorf("NewHTTPClient(%q).BaseURL() = %q, want %q", tt.raw, got, tt.want)
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
