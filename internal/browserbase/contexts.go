package browserbase

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// A ContextClient makes the context calls: a Browserbase context is a browser profile (cookies,
// local storage) that a session loads through BrowserSettings.Context and, with Persist, saves
// back when it ends. It is apart from Client so that the implementations of Client need not
// know about contexts. Every call takes the API key to use.
type ContextClient interface {
	// CreateContext creates a context in the key's project, or in projectID when it is set
	// (POST /v1/contexts). It is not idempotent: a call whose outcome is unknown may still have
	// created a context. Implementations never retry it.
	CreateContext(ctx context.Context, apiKey Sensitive, projectID string) (*Context, error)
	// GetContext reads a context (GET /v1/contexts/{id}). It does not change anything.
	GetContext(ctx context.Context, apiKey Sensitive, id string) (*Context, error)
	// DeleteContext deletes a context (DELETE /v1/contexts/{id}). Callers treat 404 as deleted.
	DeleteContext(ctx context.Context, apiKey Sensitive, id string) error
}

var _ ContextClient = &HTTPClient{}

// A Context is a Browserbase context. GetContext fills ID, CreatedAt, UpdatedAt and ProjectID.
// CreateContext fills ID and the upload fields, with which a profile can be uploaded encrypted
// (CipherAlgorithm, "AES-256-CBC", with an initialization vector of InitializationVectorSize
// bytes); UploadURL and PublicKey are treated as credentials.
type Context struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	ProjectID string    `json:"projectId,omitempty"`

	UploadURL                Sensitive `json:"uploadUrl,omitempty"`
	PublicKey                Sensitive `json:"publicKey,omitempty"`
	CipherAlgorithm          string    `json:"cipherAlgorithm,omitempty"`
	InitializationVectorSize int       `json:"initializationVectorSize,omitempty"`
}

// MarshalLog implements logr.Marshaler: a structured logger, which encodes by reflection, gets a
// copy whose upload URL and public key are hidden (see Session.MarshalLog).
func (c Context) MarshalLog() any {
	type browserContext Context // without methods: encoded field by field
	v := browserContext(c)
	v.UploadURL = redacted(c.UploadURL)
	v.PublicKey = redacted(c.PublicKey)
	return v
}

// CreateContext implements ContextClient.
func (c *HTTPClient) CreateContext(ctx context.Context, apiKey Sensitive, projectID string) (*Context, error) {
	body := struct {
		ProjectID string `json:"projectId,omitempty"`
	}{projectID}
	out := &Context{}
	if err := c.do(ctx, apiKey, http.MethodPost, "/v1/contexts", nil, body, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetContext implements ContextClient.
func (c *HTTPClient) GetContext(ctx context.Context, apiKey Sensitive, id string) (*Context, error) {
	if err := validID("context", id); err != nil {
		return nil, err
	}
	out := &Context{}
	if err := c.do(ctx, apiKey, http.MethodGet, "/v1/contexts/"+url.PathEscape(id), nil, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteContext implements ContextClient. Browserbase answers 204 with no body.
func (c *HTTPClient) DeleteContext(ctx context.Context, apiKey Sensitive, id string) error {
	if err := validID("context", id); err != nil {
		return err
	}
	return c.do(ctx, apiKey, http.MethodDelete, "/v1/contexts/"+url.PathEscape(id), nil, nil, nil)
}
