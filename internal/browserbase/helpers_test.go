package browserbase

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Credentials used throughout: none of them may ever show up in an error or a formatted value.
const (
	testAPIKey      Sensitive = "bb_live_TESTAPIKEY_0123456789abcdef"
	testSigningKey            = "SIGNINGKEY_fedcba9876543210"
	testConnectURL            = "wss://connect.usw2.browserbase.com/?signingKey=" + testSigningKey
	testSessionID             = "5c1a8a2e-4c2b-4f55-9d7b-1a2b3c4d5e6f"
	testUploadToken           = "UPLOADTOKEN_0a1b2c3d4e5f"
	testPublicKey             = "PUBLICKEY_MIIBIjANBgkqhkiG9w0B"
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

// formatVerbs are the fmt verbs a log line or an error wrap might use.
var formatVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"}

// assertNoSecrets fails if any of the secrets, or their hex encoding, is in text.
func assertNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, secret := range []string{testAPIKey.Reveal(), testSigningKey, "proxy-secret-pw", "server-secret-pw", "signingKey=", testUploadToken, testPublicKey} {
		for _, form := range []string{secret, hex.EncodeToString([]byte(secret)), strings.ToUpper(hex.EncodeToString([]byte(secret)))} {
			if strings.Contains(text, form) {
				t.Errorf("%s leaks %q: %s", what, secret, text)
			}
		}
	}
}

// logJSON logs keysAndValues once through the manager's logger, built as main.go builds it
// (controller-runtime's zap.New with the production JSON encoder, writing to a buffer here),
// and returns what it wrote.
func logJSON(t *testing.T, keysAndValues ...any) string {
	t.Helper()
	var buf bytes.Buffer
	opts := zap.Options{Development: false, DestWriter: &buf}
	log := zap.New(zap.UseFlagOptions(&opts)).WithName("test")
	log.Info("logged", keysAndValues...)
	log.WithValues(keysAndValues...).Error(errors.New("boom"), "logged with values")
	if !json.Valid(bytes.SplitN(buf.Bytes(), []byte("\n"), 2)[0]) {
		t.Fatalf("logger wrote %q, want a JSON line", buf.String())
	}
	return buf.String()
}
