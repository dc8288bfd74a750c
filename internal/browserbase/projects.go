package browserbase

import (
	"context"
	"net/http"
	"net/url"
)

// A ProjectClient reads Browserbase projects: their name, the default session timeout and the
// concurrent-session limit. It is apart from Client, as ContextClient is, so that the
// implementations of Client need not know about projects. Every call takes the API key to use.
type ProjectClient interface {
	// GetProject reads a project (GET /v1/projects/{id}). A key reads only its own project:
	// another one is answered 404.
	GetProject(ctx context.Context, apiKey Sensitive, id string) (*Project, error)
	// ListProjects lists the projects the key sees (GET /v1/projects): its own.
	ListProjects(ctx context.Context, apiKey Sensitive) ([]Project, error)
}

var _ ProjectClient = &HTTPClient{}

// Project is a Browserbase project as GET /v1/projects shows it. DefaultTimeout is in seconds;
// Concurrency is the most sessions the project may run at once.
type Project struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	DefaultTimeout int    `json:"defaultTimeout"`
	Concurrency    int    `json:"concurrency"`
}

// GetProject implements ProjectClient.
func (c *HTTPClient) GetProject(ctx context.Context, apiKey Sensitive, id string) (*Project, error) {
	if err := validID("project", id); err != nil {
		return nil, err
	}
	out := &Project{}
	if err := c.do(ctx, apiKey, http.MethodGet, "/v1/projects/"+url.PathEscape(id), nil, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListProjects implements ProjectClient.
func (c *HTTPClient) ListProjects(ctx context.Context, apiKey Sensitive) ([]Project, error) {
	var out []Project
	if err := c.do(ctx, apiKey, http.MethodGet, "/v1/projects", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
