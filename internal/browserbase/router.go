package browserbase

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// A Router is one Client, ContextClient and ProjectClient that sends each call to the API
// address registered for the call's key, and the calls of every other key to a default. A
// BrowserbaseProject may name its own base URL (a proxy, a regional endpoint) while every call
// site passes only the key, so whoever reads the project registers its key here with Route.
//
// Keys are held as SHA-256 hashes, never in clear. One HTTPClient is built per distinct base URL
// and shared by the keys routed there; it is dropped once no key is routed to it.
type Router struct {
	def       *HTTPClient
	newClient func(baseURL string) (*HTTPClient, error)

	mu      sync.RWMutex
	routes  map[keyHash]*routedClient
	clients map[string]*routedClient // by normalized base URL
}

type keyHash [sha256.Size]byte

func hashKey(apiKey Sensitive) keyHash { return sha256.Sum256([]byte(apiKey.Reveal())) }

// routedClient is a client for one base URL and the number of keys routed to it.
type routedClient struct {
	client  *HTTPClient
	baseURL string
	keys    int
}

var (
	_ Client        = &Router{}
	_ ContextClient = &Router{}
	_ ProjectClient = &Router{}
)

// NewRouter returns a Router that calls def for every key until one is routed elsewhere, and
// builds the client for a base URL with newClient (NewHTTPClient with no options when nil), so
// that routed clients get the default's options: timeout, user agent, transport.
func NewRouter(def *HTTPClient, newClient func(baseURL string) (*HTTPClient, error)) *Router {
	if newClient == nil {
		newClient = func(baseURL string) (*HTTPClient, error) { return NewHTTPClient(baseURL) }
	}
	return &Router{
		def:       def,
		newClient: newClient,
		routes:    map[keyHash]*routedClient{},
		clients:   map[string]*routedClient{},
	}
}

// Route sends the calls made with apiKey to the API at baseURL from now on; "" (or the default's
// own address) sends them to the default. A base URL must be an absolute http(s) URL with a host,
// and no query or fragment, which every call would drop. A URL that is refused leaves the key's
// route as it was. The error names the URL without its credentials (see RedactURL), never the key.
func (r *Router) Route(apiKey Sensitive, baseURL string) error {
	normalized, err := normalizeBaseURL(baseURL)
	if err != nil {
		return scrubKey(err, apiKey)
	}
	if normalized == "" || normalized == r.def.baseURL.String() {
		r.Unroute(apiKey)
		return nil
	}
	h := hashKey(apiKey)

	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.routes[h]; cur != nil && cur.baseURL == normalized {
		return nil
	}
	rc := r.clients[normalized]
	if rc == nil {
		c, err := r.newClient(normalized)
		if err != nil {
			return scrubKey(fmt.Errorf("browserbase: client for base URL %q: %w", RedactURL(Sensitive(normalized)), err), apiKey)
		}
		rc = &routedClient{client: c, baseURL: normalized}
		r.clients[normalized] = rc
	}
	r.dropLocked(h)
	rc.keys++
	r.routes[h] = rc
	return nil
}

// Unroute sends the calls made with apiKey to the default again.
func (r *Router) Unroute(apiKey Sensitive) {
	h := hashKey(apiKey)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(h)
}

// dropLocked removes the key's route, and the client it used when no other key uses it. Callers
// hold r.mu.
func (r *Router) dropLocked(h keyHash) {
	rc := r.routes[h]
	if rc == nil {
		return
	}
	delete(r.routes, h)
	if rc.keys--; rc.keys == 0 {
		delete(r.clients, rc.baseURL)
	}
}

// BaseURL returns the API address calls made with apiKey go to, in the form to log (see
// HTTPClient.BaseURL).
func (r *Router) BaseURL(apiKey Sensitive) string { return r.client(apiKey).BaseURL() }

// client returns the client for apiKey's calls.
func (r *Router) client(apiKey Sensitive) *HTTPClient {
	h := hashKey(apiKey)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rc := r.routes[h]; rc != nil {
		return rc.client
	}
	return r.def
}

// normalizeBaseURL checks a base URL as NewHTTPClient does, and more strictly: no query or
// fragment. It returns the URL without trailing slashes, the form the clients are cached by, or
// "" for "".
func normalizeBaseURL(baseURL string) (string, error) {
	trimmed := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if trimmed == "" {
		return "", nil
	}
	u, err := url.Parse(trimmed)
	if err != nil {
		// *url.Error quotes the URL whole, user information and query included: keep its cause.
		return "", fmt.Errorf("browserbase: invalid base URL: %w", unwrapURLError(err))
	}
	shown := RedactURL(Sensitive(trimmed))
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("browserbase: base URL %q must be an absolute http(s) URL with a host", shown)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("browserbase: base URL %q must have no query or fragment", shown)
	}
	return u.String(), nil
}

// scrubKey hides apiKey in err's text, in case someone pasted the key into the URL path, the one
// part of a URL that RedactURL keeps.
func scrubKey(err error, apiKey Sensitive) error {
	key := apiKey.Reveal()
	if key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), key, "[redacted]"))
}

// CreateSession implements Client.
func (r *Router) CreateSession(ctx context.Context, apiKey Sensitive, req CreateSessionRequest) (*Session, error) {
	return r.client(apiKey).CreateSession(ctx, apiKey, req)
}

// GetSession implements Client.
func (r *Router) GetSession(ctx context.Context, apiKey Sensitive, id string) (*Session, error) {
	return r.client(apiKey).GetSession(ctx, apiKey, id)
}

// ListSessions implements Client.
func (r *Router) ListSessions(ctx context.Context, apiKey Sensitive, opts ListOptions) ([]Session, error) {
	return r.client(apiKey).ListSessions(ctx, apiKey, opts)
}

// ReleaseSession implements Client.
func (r *Router) ReleaseSession(ctx context.Context, apiKey Sensitive, id string) (*Session, error) {
	return r.client(apiKey).ReleaseSession(ctx, apiKey, id)
}

// CreateContext implements ContextClient.
func (r *Router) CreateContext(ctx context.Context, apiKey Sensitive, projectID string) (*Context, error) {
	return r.client(apiKey).CreateContext(ctx, apiKey, projectID)
}

// GetContext implements ContextClient.
func (r *Router) GetContext(ctx context.Context, apiKey Sensitive, id string) (*Context, error) {
	return r.client(apiKey).GetContext(ctx, apiKey, id)
}

// DeleteContext implements ContextClient.
func (r *Router) DeleteContext(ctx context.Context, apiKey Sensitive, id string) error {
	return r.client(apiKey).DeleteContext(ctx, apiKey, id)
}

// GetProject implements ProjectClient.
func (r *Router) GetProject(ctx context.Context, apiKey Sensitive, id string) (*Project, error) {
	return r.client(apiKey).GetProject(ctx, apiKey, id)
}

// ListProjects implements ProjectClient.
func (r *Router) ListProjects(ctx context.Context, apiKey Sensitive) ([]Project, error) {
	return r.client(apiKey).ListProjects(ctx, apiKey)
}
