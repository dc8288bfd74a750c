package browserbasetest

import (
	"context"
	"sync"

	"github.com/browserbase/session-operator/internal/browserbase"
)

// The method names recorded in ContextCall.Method.
const (
	CreateContext = "CreateContext"
	GetContext    = "GetContext"
	DeleteContext = "DeleteContext"
)

// ContextClient answers each context call with its function field, as Client does for session
// calls. The zero value refuses every call.
type ContextClient struct {
	CreateContextFn func(ctx context.Context, apiKey browserbase.Sensitive, projectID string) (*browserbase.Context, error)
	GetContextFn    func(ctx context.Context, apiKey browserbase.Sensitive, id string) (*browserbase.Context, error)
	DeleteContextFn func(ctx context.Context, apiKey browserbase.Sensitive, id string) error

	mu    sync.Mutex
	calls []ContextCall
}

var _ browserbase.ContextClient = (*ContextClient)(nil)

// ContextCall is one recorded context call: the method, and the argument that identifies it.
type ContextCall struct {
	Method string
	// ID is the context id of a get or delete.
	ID string
	// ProjectID is the project of a create ("" for the API key's).
	ProjectID string
}

// Calls returns every call made so far, in order.
func (c *ContextClient) Calls() []ContextCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ContextCall(nil), c.calls...)
}

// CallsTo returns the calls made to one method, in order.
func (c *ContextClient) CallsTo(method string) []ContextCall {
	var out []ContextCall
	for _, call := range c.Calls() {
		if call.Method == method {
			out = append(out, call)
		}
	}
	return out
}

func (c *ContextClient) record(call ContextCall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

// CreateContext calls CreateContextFn.
func (c *ContextClient) CreateContext(ctx context.Context, apiKey browserbase.Sensitive, projectID string) (*browserbase.Context, error) {
	c.record(ContextCall{Method: CreateContext, ProjectID: projectID})
	if c.CreateContextFn == nil {
		return nil, unexpected(CreateContext)
	}
	return c.CreateContextFn(ctx, apiKey, projectID)
}

// GetContext calls GetContextFn.
func (c *ContextClient) GetContext(ctx context.Context, apiKey browserbase.Sensitive, id string) (*browserbase.Context, error) {
	c.record(ContextCall{Method: GetContext, ID: id})
	if c.GetContextFn == nil {
		return nil, unexpected(GetContext)
	}
	return c.GetContextFn(ctx, apiKey, id)
}

// DeleteContext calls DeleteContextFn.
func (c *ContextClient) DeleteContext(ctx context.Context, apiKey browserbase.Sensitive, id string) error {
	c.record(ContextCall{Method: DeleteContext, ID: id})
	if c.DeleteContextFn == nil {
		return unexpected(DeleteContext)
	}
	return c.DeleteContextFn(ctx, apiKey, id)
}

// ContextNotFound is the error Browserbase answers for an unknown context, as the HTTP client
// returns it.
func ContextNotFound(method, id string) error {
	return &browserbase.APIError{Method: method, Path: "/v1/contexts/" + id, StatusCode: 404, Message: "Context not found"}
}
