package browserbasetest

import (
	"context"
	"sync"

	"github.com/browserbase/session-operator/internal/browserbase"
)

// The method names recorded in ProjectCall.Method.
const (
	GetProject   = "GetProject"
	ListProjects = "ListProjects"
)

// ProjectClient answers each project call with its function field, as Client does for session
// calls. The zero value refuses every call.
type ProjectClient struct {
	GetProjectFn   func(ctx context.Context, apiKey browserbase.Sensitive, id string) (*browserbase.Project, error)
	ListProjectsFn func(ctx context.Context, apiKey browserbase.Sensitive) ([]browserbase.Project, error)

	mu    sync.Mutex
	calls []ProjectCall
}

var _ browserbase.ProjectClient = (*ProjectClient)(nil)

// ProjectCall is one recorded project call: the method, and the argument that identifies it.
type ProjectCall struct {
	Method string
	// ID is the project id of a get.
	ID string
}

// Calls returns every call made so far, in order.
func (c *ProjectClient) Calls() []ProjectCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ProjectCall(nil), c.calls...)
}

// CallsTo returns the calls made to one method, in order.
func (c *ProjectClient) CallsTo(method string) []ProjectCall {
	var out []ProjectCall
	for _, call := range c.Calls() {
		if call.Method == method {
			out = append(out, call)
		}
	}
	return out
}

func (c *ProjectClient) record(call ProjectCall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

// GetProject calls GetProjectFn.
func (c *ProjectClient) GetProject(ctx context.Context, apiKey browserbase.Sensitive, id string) (*browserbase.Project, error) {
	c.record(ProjectCall{Method: GetProject, ID: id})
	if c.GetProjectFn == nil {
		return nil, unexpected(GetProject)
	}
	return c.GetProjectFn(ctx, apiKey, id)
}

// ListProjects calls ListProjectsFn.
func (c *ProjectClient) ListProjects(ctx context.Context, apiKey browserbase.Sensitive) ([]browserbase.Project, error) {
	c.record(ProjectCall{Method: ListProjects})
	if c.ListProjectsFn == nil {
		return nil, unexpected(ListProjects)
	}
	return c.ListProjectsFn(ctx, apiKey)
}

// ProjectNotFound is the error Browserbase answers for a project the key does not see, as the
// HTTP client returns it.
func ProjectNotFound(id string) error {
	return &browserbase.APIError{Method: "GET", Path: "/v1/projects/" + id, StatusCode: 404, Message: "Project not found"}
}
