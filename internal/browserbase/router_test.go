package browserbase

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// apiServer answers every call the clients make with a minimal success, and records the path
// and key of each.
type apiServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path key"
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	s := &apiServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-BB-API-Key"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && (strings.HasSuffix(r.URL.Path, "/v1/sessions") || strings.HasSuffix(r.URL.Path, "/v1/projects")):
			_, _ = w.Write([]byte(`[]`))
		default:
			_, _ = w.Write([]byte(`{"id":"x"}`))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// callEverything makes every call of Client, ContextClient and ProjectClient through r with key.
func callEverything(t *testing.T, r *Router, key Sensitive) {
	t.Helper()
	ctx := context.Background()
	errs := map[string]error{}
	_, errs["CreateSession"] = r.CreateSession(ctx, key, CreateSessionRequest{})
	_, errs["GetSession"] = r.GetSession(ctx, key, "s")
	_, errs["ListSessions"] = r.ListSessions(ctx, key, ListOptions{})
	_, errs["ReleaseSession"] = r.ReleaseSession(ctx, key, "s")
	_, errs["CreateContext"] = r.CreateContext(ctx, key, "")
	_, errs["GetContext"] = r.GetContext(ctx, key, "c")
	errs["DeleteContext"] = r.DeleteContext(ctx, key, "c")
	_, errs["GetProject"] = r.GetProject(ctx, key, "p")
	_, errs["ListProjects"] = r.ListProjects(ctx, key)
	for name, err := range errs {
		if err != nil {
			t.Errorf("%s() error: %v", name, err)
		}
	}
}

// everyRequest is what a server sees of callEverything under prefix.
func everyRequest(prefix string, key Sensitive) []string {
	k := " " + key.Reveal()
	return []string{
		"POST " + prefix + "/v1/sessions" + k,
		"GET " + prefix + "/v1/sessions/s" + k,
		"GET " + prefix + "/v1/sessions" + k,
		"POST " + prefix + "/v1/sessions/s" + k,
		"POST " + prefix + "/v1/contexts" + k,
		"GET " + prefix + "/v1/contexts/c" + k,
		"DELETE " + prefix + "/v1/contexts/c" + k,
		"GET " + prefix + "/v1/projects/p" + k,
		"GET " + prefix + "/v1/projects" + k,
	}
}

func TestRouterSendsEachCallToItsKeysBaseURL(t *testing.T) {
	const otherKey Sensitive = "bb_live_OTHERKEY_fedcba9876543210"
	tests := []struct {
		name string
		// routes registers routes; def and routed are the servers' URLs.
		routes     func(r *Router, def, routed string) error
		key        Sensitive
		wantRouted bool
		wantPrefix string
	}{
		{name: "no route: the default", routes: func(*Router, string, string) error { return nil }, key: testAPIKey},
		{
			name:   "routed key: its base URL",
			routes: func(r *Router, _, routed string) error { return r.Route(testAPIKey, routed) },
			key:    testAPIKey, wantRouted: true,
		},
		{
			name:   "another key: the default",
			routes: func(r *Router, _, routed string) error { return r.Route(otherKey, routed) },
			key:    testAPIKey,
		},
		{
			name:   "base URL with a trailing slash and a path prefix",
			routes: func(r *Router, _, routed string) error { return r.Route(testAPIKey, routed+"/proxy/bb/") },
			key:    testAPIKey, wantRouted: true, wantPrefix: "/proxy/bb",
		},
		{
			name: "routed then unrouted: the default",
			routes: func(r *Router, _, routed string) error {
				err := r.Route(testAPIKey, routed)
				r.Unroute(testAPIKey)
				return err
			},
			key: testAPIKey,
		},
		{
			name: `routed to "": the default`,
			routes: func(r *Router, _, routed string) error {
				if err := r.Route(testAPIKey, routed); err != nil {
					return err
				}
				return r.Route(testAPIKey, "")
			},
			key: testAPIKey,
		},
		{
			name: "routed to the default's own URL: the default",
			routes: func(r *Router, def, routed string) error {
				if err := r.Route(testAPIKey, routed); err != nil {
					return err
				}
				return r.Route(testAPIKey, def+"/")
			},
			key: testAPIKey,
		},
		{
			name: "routed twice: the last route",
			routes: func(r *Router, _, routed string) error {
				if err := r.Route(testAPIKey, routed+"/old"); err != nil {
					return err
				}
				return r.Route(testAPIKey, routed+"/new")
			},
			key: testAPIKey, wantRouted: true, wantPrefix: "/new",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defSrv, routedSrv := newAPIServer(t), newAPIServer(t)
			def, err := NewHTTPClient(defSrv.URL)
			if err != nil {
				t.Fatal(err)
			}
			r := NewRouter(def, nil)
			if err := tt.routes(r, defSrv.URL, routedSrv.URL); err != nil {
				t.Fatalf("Route() error: %v", err)
			}

			callEverything(t, r, tt.key)

			want, wantDef := everyRequest(tt.wantPrefix, tt.key), []string(nil)
			wantURL := routedSrv.URL + tt.wantPrefix
			if !tt.wantRouted {
				want, wantDef = nil, want
				wantURL = defSrv.URL
			}
			if d := cmp.Diff(wantDef, defSrv.requests()); d != "" {
				t.Errorf("default server's requests mismatch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(want, routedSrv.requests()); d != "" {
				t.Errorf("routed server's requests mismatch (-want +got):\n%s", d)
			}
			if got := r.BaseURL(tt.key); got != wantURL {
				t.Errorf("BaseURL() = %q, want %q", got, wantURL)
			}
		})
	}
}

func TestRouterRefusesABadBaseURL(t *testing.T) {
	tests := []struct {
		name, url, wantErr string
	}{
		{name: "no scheme", url: "api.example.com", wantErr: "absolute http(s) URL"},
		{name: "other scheme", url: "ftp://api.example.com", wantErr: "absolute http(s) URL"},
		{name: "websocket scheme", url: "wss://connect.example.com", wantErr: "absolute http(s) URL"},
		{name: "no host", url: "https://", wantErr: "absolute http(s) URL"},
		{name: "opaque", url: "https:api.example.com", wantErr: "absolute http(s) URL"},
		{name: "does not parse", url: "http://[::1", wantErr: "invalid base URL"},
		{name: "control character", url: "https://api.example.com/\x7f" + testAPIKey.Reveal(), wantErr: "invalid base URL"},
		{name: "query", url: "https://api.example.com/?apiKey=" + testAPIKey.Reveal(), wantErr: "no query or fragment"},
		{name: "fragment", url: "https://api.example.com/#" + testAPIKey.Reveal(), wantErr: "no query or fragment"},
		{name: "password and a key in the path", url: "ftp://u:server-secret-pw@api.example.com/" + testAPIKey.Reveal(), wantErr: "absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defSrv, routedSrv := newAPIServer(t), newAPIServer(t)
			def, err := NewHTTPClient(defSrv.URL)
			if err != nil {
				t.Fatal(err)
			}
			r := NewRouter(def, nil)
			if err := r.Route(testAPIKey, routedSrv.URL); err != nil {
				t.Fatalf("Route(%q) error: %v", routedSrv.URL, err)
			}

			err = r.Route(testAPIKey, tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Route(%q) error = %v, want one saying %q", tt.url, err, tt.wantErr)
			}
			assertNoSecrets(t, "Route error", fmt.Sprintf("%v %+v", err, err))

			// The refused URL left the key's route as it was.
			if _, err := r.GetSession(context.Background(), testAPIKey, "s"); err != nil {
				t.Fatalf("GetSession() error: %v", err)
			}
			if n, m := len(routedSrv.requests()), len(defSrv.requests()); n != 1 || m != 0 {
				t.Errorf("after a refused Route, %d calls went to the routed server and %d to the default, want 1 and 0", n, m)
			}
		})
	}
}

func TestRouterBuildsOneClientPerBaseURL(t *testing.T) {
	const otherKey Sensitive = "bb_live_OTHERKEY_fedcba9876543210"
	def, err := NewHTTPClient(DefaultBaseURL)
	if err != nil {
		t.Fatal(err)
	}
	var built []string
	r := NewRouter(def, func(baseURL string) (*HTTPClient, error) {
		built = append(built, baseURL)
		return NewHTTPClient(baseURL, WithUserAgent("routed"))
	})
	mustRoute := func(key Sensitive, url string) {
		t.Helper()
		if err := r.Route(key, url); err != nil {
			t.Fatalf("Route(%q) error: %v", url, err)
		}
	}

	mustRoute(testAPIKey, "https://eu.example.com")
	mustRoute(otherKey, "https://eu.example.com/")
	mustRoute(testAPIKey, "https://eu.example.com")
	if d := cmp.Diff([]string{"https://eu.example.com"}, built); d != "" {
		t.Errorf("clients built mismatch (-want +got):\n%s", d)
	}
	if r.client(testAPIKey) != r.client(otherKey) || r.client(testAPIKey).userAgent != "routed" {
		t.Error("two keys routed to one base URL do not share the client newClient built")
	}

	// A client no key is routed to any more is dropped, and built again when needed.
	mustRoute(testAPIKey, "https://us.example.com")
	r.Unroute(otherKey)
	r.Unroute(otherKey) // unrouting twice is harmless
	mustRoute(otherKey, "https://eu.example.com")
	want := []string{"https://eu.example.com", "https://us.example.com", "https://eu.example.com"}
	if d := cmp.Diff(want, built); d != "" {
		t.Errorf("clients built mismatch (-want +got):\n%s", d)
	}
	r.Unroute(testAPIKey)
	r.Unroute(otherKey)
	if len(r.clients) != 0 || len(r.routes) != 0 {
		t.Errorf("with no route left the router holds %d clients and %d routes, want none", len(r.clients), len(r.routes))
	}

	// Keys are held hashed: nothing the router holds prints a key.
	mustRoute(testAPIKey, "https://eu.example.com")
	for _, rc := range r.routes {
		assertNoSecrets(t, "routed client", fmt.Sprintf("%+v %#v", *rc, *rc.client))
	}
	assertNoSecrets(t, "router", fmt.Sprintf("%+v %#v", r.routes, r.clients))
}

func TestRouterFailsWhenNewClientFails(t *testing.T) {
	def, err := NewHTTPClient(DefaultBaseURL)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(def, func(string) (*HTTPClient, error) {
		return nil, fmt.Errorf("no client for key %s", testAPIKey.Reveal())
	})
	err = r.Route(testAPIKey, "https://eu.example.com")
	if err == nil || !strings.Contains(err.Error(), "https://eu.example.com") {
		t.Fatalf("Route() error = %v, want one naming the base URL", err)
	}
	assertNoSecrets(t, "Route error", err.Error())
	if r.client(testAPIKey) != def {
		t.Error("a key whose client could not be built is not sent to the default")
	}
}

// TestRouterIsSafeForConcurrentUse routes, unroutes and calls at once; run with -race.
func TestRouterIsSafeForConcurrentUse(t *testing.T) {
	defSrv, routedSrv := newAPIServer(t), newAPIServer(t)
	def, err := NewHTTPClient(defSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(def, nil)
	keys := []Sensitive{"key-a", "key-b", "key-c"}
	var wg sync.WaitGroup
	for i := range 4 {
		for _, key := range keys {
			wg.Go(func() {
				for j := range 10 {
					switch (i + j) % 3 {
					case 0:
						if err := r.Route(key, routedSrv.URL+fmt.Sprintf("/p%d", j%2)); err != nil {
							t.Errorf("Route() error: %v", err)
						}
					case 1:
						r.Unroute(key)
					default:
						if _, err := r.ListProjects(context.Background(), key); err != nil {
							t.Errorf("ListProjects() error: %v", err)
						}
					}
				}
			})
		}
	}
	wg.Wait()
	if n := len(defSrv.requests()) + len(routedSrv.requests()); n == 0 {
		t.Error("no call reached a server")
	}
	for _, key := range keys {
		r.Unroute(key)
	}
	if len(r.clients) != 0 {
		t.Errorf("with every key unrouted the router holds %d clients, want none", len(r.clients))
	}
}
