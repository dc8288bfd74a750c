package browserbase

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultBaseURL is Browserbase's API endpoint.
const DefaultBaseURL = "https://api.browserbase.com"

// A Client makes the session calls the operator needs. Every call takes the API key to use, so
// one client serves every BrowserSession whatever its credentials.
type Client interface {
	// CreateSession creates a session (POST /v1/sessions). It is not idempotent: Browserbase has
	// no idempotency key, so a call whose outcome is unknown (timeout, 5xx) may still have
	// created a billed session. Implementations never retry it.
	CreateSession(ctx context.Context, apiKey Sensitive, req CreateSessionRequest) (*Session, error)
	// GetSession reads a session (GET /v1/sessions/{id}). It does not change anything.
	GetSession(ctx context.Context, apiKey Sensitive, id string) (*Session, error)
	// ListSessions lists the sessions of the key's project (GET /v1/sessions).
	ListSessions(ctx context.Context, apiKey Sensitive, opts ListOptions) ([]Session, error)
	// ReleaseSession asks Browserbase to end a session (POST /v1/sessions/{id} with
	// REQUEST_RELEASE). Releasing an ended session is harmless; callers treat 404 as released.
	ReleaseSession(ctx context.Context, apiKey Sensitive, id string) (*Session, error)
}

// HTTPClient is the Client, and the ContextClient, that talks to the Browserbase REST API.
type HTTPClient struct {
	baseURL   *url.URL
	http      *http.Client
	timeout   time.Duration
	userAgent string
}

var _ Client = &HTTPClient{}

// Option configures an HTTPClient.
type Option func(*HTTPClient)

// WithHTTPClient replaces the underlying http.Client (its Timeout is kept as a backstop).
func WithHTTPClient(c *http.Client) Option { return func(h *HTTPClient) { h.http = c } }

// WithTimeout bounds every call, including reading the answer. The default is 30 seconds.
func WithTimeout(d time.Duration) Option { return func(h *HTTPClient) { h.timeout = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(h *HTTPClient) { h.userAgent = ua } }

// maxResponseBytes bounds how much of an answer is read; a session is about 1 KiB, and a list of
// a busy project's sessions stays far below this.
const maxResponseBytes = 8 << 20

// NewHTTPClient returns a client for the API at baseURL, for example DefaultBaseURL.
func NewHTTPClient(baseURL string, opts ...Option) (*HTTPClient, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		// *url.Error quotes the URL whole, user information and query included: keep its cause.
		return nil, fmt.Errorf("browserbase: invalid base URL: %w", unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("browserbase: base URL %q must be an absolute http(s) URL", RedactURL(Sensitive(baseURL)))
	}
	c := &HTTPClient{
		baseURL:   u,
		timeout:   30 * time.Second,
		userAgent: "browserbase-session-operator",
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 2 * c.timeout}
	} else {
		copied := *c.http
		c.http = &copied
	}
	// Go copies custom headers, X-BB-API-Key included, to a redirect's target. Browserbase does
	// not redirect API calls, so a redirect is answered as the error it is, and the key stays home.
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// BaseURL returns the API address the client calls, without the parts that can carry a
// credential (user information, query, fragment; see RedactURL): the form to log.
func (c *HTTPClient) BaseURL() string { return RedactURL(Sensitive(c.baseURL.String())) }

// CreateSession implements Client.
func (c *HTTPClient) CreateSession(ctx context.Context, apiKey Sensitive, req CreateSessionRequest) (*Session, error) {
	s := &Session{}
	if err := c.do(ctx, apiKey, http.MethodPost, "/v1/sessions", nil, req, s); err != nil {
		return nil, err
	}
	return s, nil
}

// GetSession implements Client.
func (c *HTTPClient) GetSession(ctx context.Context, apiKey Sensitive, id string) (*Session, error) {
	if err := validID("session", id); err != nil {
		return nil, err
	}
	s := &Session{}
	if err := c.do(ctx, apiKey, http.MethodGet, "/v1/sessions/"+url.PathEscape(id), nil, nil, s); err != nil {
		return nil, err
	}
	return s, nil
}

// ListSessions implements Client.
func (c *HTTPClient) ListSessions(ctx context.Context, apiKey Sensitive, opts ListOptions) ([]Session, error) {
	q := url.Values{}
	if opts.Status != "" {
		q.Set("status", string(opts.Status))
	}
	if opts.Query != "" {
		q.Set("q", opts.Query)
	}
	var sessions []Session
	if err := c.do(ctx, apiKey, http.MethodGet, "/v1/sessions", q, nil, &sessions); err != nil {
		return nil, err
	}
	return sessions, nil
}

// ReleaseSession implements Client.
func (c *HTTPClient) ReleaseSession(ctx context.Context, apiKey Sensitive, id string) (*Session, error) {
	if err := validID("session", id); err != nil {
		return nil, err
	}
	s := &Session{}
	body := map[string]string{"status": "REQUEST_RELEASE"}
	if err := c.do(ctx, apiKey, http.MethodPost, "/v1/sessions/"+url.PathEscape(id), nil, body, s); err != nil {
		return nil, err
	}
	return s, nil
}

// do makes one call and decodes a successful answer into out. Any 2xx status is success:
// Browserbase has changed success codes before (release went from 201 to 200).
func (c *HTTPClient) do(ctx context.Context, apiKey Sensitive, method, path string, query url.Values, in any, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	u := c.baseURL.JoinPath(path)
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("browserbase: %s %s: encoding request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("browserbase: %s %s: %w", method, path, err)
	}
	req.Header.Set("X-BB-API-Key", apiKey.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return &CallError{Method: method, Path: path, Err: unwrapURLError(err)}
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return &CallError{Method: method, Path: path, Err: fmt.Errorf("reading answer: %w", err)}
	}
	if len(data) > maxResponseBytes {
		return &CallError{Method: method, Path: path, Err: fmt.Errorf("answer larger than %d bytes", maxResponseBytes)}
	}

	if resp.StatusCode >= 300 {
		return newAPIError(method, path, resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &CallError{Method: method, Path: path, Err: fmt.Errorf("decoding answer (%d): %w", resp.StatusCode, err)}
	}
	return nil
}

func newAPIError(method, path string, resp *http.Response, data []byte) *APIError {
	e := &APIError{
		Method:     method,
		Path:       path,
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		RequestID:  resp.Header.Get("x-request-id"),
	}
	// Documented shape: {statusCode, error, message}; older ones carry only message.
	var body struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Message = cmp.Or(body.Message, body.Error)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	// A message is for people; keep a runaway one from flooding conditions and logs.
	if len(e.Message) > 512 {
		cut := 512
		for cut > 0 && !utf8.RuneStart(e.Message[cut]) {
			cut--
		}
		e.Message = e.Message[:cut] + "…"
	}
	return e
}

// validID refuses ids that would address another endpoint once the path is cleaned: "" and "."
// turn POST /v1/sessions/{id} (release) into POST /v1/sessions (create). Other characters are
// path-escaped. Ids come from an annotation that anyone with edit rights can change. kind names
// the object in the error ("session", "context").
func validID(kind, id string) error {
	if id == "" || id == "." || id == ".." {
		return fmt.Errorf("browserbase: invalid %s id %q", kind, id)
	}
	return nil
}

// unwrapURLError drops *url.Error's "Post \"https://…\":" prefix, since CallError names the call
// already, and keeps the cause (timeout, connection refused) that says what happened.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
