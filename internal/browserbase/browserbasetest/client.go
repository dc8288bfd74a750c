// Package browserbasetest is a programmable browserbase.Client (and ContextClient and
// ProjectClient) for unit tests: each method calls the function field of its name, and every
// call is recorded. A method whose function is unset fails the call, so a test states every call
// it expects the code under test to make.
package browserbasetest

import (
	"context"
	"fmt"
	"sync"

	"github.com/browserbase/session-operator/internal/browserbase"
)

// The method names recorded in Call.Method.
const (
	CreateSession  = "CreateSession"
	GetSession     = "GetSession"
	ListSessions   = "ListSessions"
	ReleaseSession = "ReleaseSession"
)

// Client answers each call with its function field (compare crossplane-runtime's
// ExternalClientFns). The zero value refuses every call.
type Client struct {
	CreateSessionFn  func(ctx context.Context, apiKey browserbase.Sensitive, req browserbase.CreateSessionRequest) (*browserbase.Session, error)
	GetSessionFn     func(ctx context.Context, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error)
	ListSessionsFn   func(ctx context.Context, apiKey browserbase.Sensitive, opts browserbase.ListOptions) ([]browserbase.Session, error)
	ReleaseSessionFn func(ctx context.Context, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error)

	mu    sync.Mutex
	calls []Call
}

var _ browserbase.Client = (*Client)(nil)

// Call is one recorded call: the method, and the argument that identifies it.
type Call struct {
	Method string
	// ID is the session id of a get or release.
	ID string
	// Request is the body of a create.
	Request *browserbase.CreateSessionRequest
	// List is the filter of a list.
	List *browserbase.ListOptions
}

// Calls returns every call made so far, in order.
func (c *Client) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

// CallsTo returns the calls made to one method, in order.
func (c *Client) CallsTo(method string) []Call {
	var out []Call
	for _, call := range c.Calls() {
		if call.Method == method {
			out = append(out, call)
		}
	}
	return out
}

func (c *Client) record(call Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

func unexpected(method string) error {
	return fmt.Errorf("browserbasetest: unexpected %s call (set %sFn)", method, method)
}

// CreateSession calls CreateSessionFn.
func (c *Client) CreateSession(ctx context.Context, apiKey browserbase.Sensitive, req browserbase.CreateSessionRequest) (*browserbase.Session, error) {
	c.record(Call{Method: CreateSession, Request: &req})
	if c.CreateSessionFn == nil {
		return nil, unexpected(CreateSession)
	}
	return c.CreateSessionFn(ctx, apiKey, req)
}

// GetSession calls GetSessionFn.
func (c *Client) GetSession(ctx context.Context, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error) {
	c.record(Call{Method: GetSession, ID: id})
	if c.GetSessionFn == nil {
		return nil, unexpected(GetSession)
	}
	return c.GetSessionFn(ctx, apiKey, id)
}

// ListSessions calls ListSessionsFn.
func (c *Client) ListSessions(ctx context.Context, apiKey browserbase.Sensitive, opts browserbase.ListOptions) ([]browserbase.Session, error) {
	c.record(Call{Method: ListSessions, List: &opts})
	if c.ListSessionsFn == nil {
		return nil, unexpected(ListSessions)
	}
	return c.ListSessionsFn(ctx, apiKey, opts)
}

// ReleaseSession calls ReleaseSessionFn.
func (c *Client) ReleaseSession(ctx context.Context, apiKey browserbase.Sensitive, id string) (*browserbase.Session, error) {
	c.record(Call{Method: ReleaseSession, ID: id})
	if c.ReleaseSessionFn == nil {
		return nil, unexpected(ReleaseSession)
	}
	return c.ReleaseSessionFn(ctx, apiKey, id)
}

// NotFound is the error Browserbase answers for an unknown session, as the HTTP client returns it.
func NotFound(method, path string) error {
	return &browserbase.APIError{Method: method, Path: path, StatusCode: 404, Message: "Session not found"}
}

// Status is an APIError with the given HTTP status, as the HTTP client returns it.
func Status(code int, message string) error {
	return &browserbase.APIError{Method: "POST", Path: "/v1/sessions", StatusCode: code, Message: message}
}
