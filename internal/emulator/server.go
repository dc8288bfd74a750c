package emulator

import (
	"crypto/sha256"
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server is the emulated API. The zero value is not usable; call New.
type Server struct {
	mu       sync.Mutex
	now      func() time.Time
	keys     map[string]*Project
	sessions map[string]*Session
	extras   map[string]*sessionExtra // by session id
	order    []string                 // session ids in creation order
	creates  map[string][]time.Time
	contexts map[string]*browserContext
	requests []Request
	faults   Faults
	// GetReturnsConnect makes GET /v1/sessions/{id} return the connect fields, as the document
	// allows; the real API's behaviour is unconfirmed.
	getReturnsConnect bool
	// concurrencyRetryAfter is the Retry-After of a concurrency 429; 0 sends none.
	concurrencyRetryAfter time.Duration
	// browserOpts is the browser backend's configuration; nil: sessions get no browser.
	browserOpts *BrowserOptions
	// browsers are the running (or starting) browsers, by session id.
	browsers map[string]*browser
	// stopping are the browsers no session has any more that are still being stopped (retire).
	stopping map[*browser]struct{}
	// stopped is closed, and replaced, whenever a browser has stopped.
	stopped chan struct{}
	// signingKeys indexes sessions by the SHA-256 of their signing key (sessionBySigningKey).
	signingKeys map[[sha256.Size]byte]*Session
	// late are creates whose answer was lost, to be committed later (Faults.CommitLate).
	late []lateCommit
	// pendingFor is how long a new session stays PENDING before it is RUNNING; 0 starts it RUNNING.
	pendingFor time.Duration
}

// New returns an emulator with no API keys; add them with AddKey.
func New() *Server {
	return &Server{
		now:                   time.Now,
		keys:                  map[string]*Project{},
		sessions:              map[string]*Session{},
		extras:                map[string]*sessionExtra{},
		creates:               map[string][]time.Time{},
		contexts:              map[string]*browserContext{},
		browsers:              map[string]*browser{},
		stopping:              map[*browser]struct{}{},
		stopped:               make(chan struct{}),
		signingKeys:           map[[sha256.Size]byte]*Session{},
		getReturnsConnect:     true,
		concurrencyRetryAfter: 60 * time.Second,
	}
}

// ServeHTTP implements the API, the admin API under /admin/ and the connect front door.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/") {
		s.serveAdmin(w, r)
		return
	}
	if isConnectPath(r.URL.Path) {
		s.serveConnect(w, r)
		return
	}
	rec := s.newRecorder(w, r)
	s.mu.Lock()
	s.settle()
	faults := s.faults
	s.mu.Unlock()
	if faults.Latency > 0 {
		select {
		case <-time.After(faults.Latency):
		case <-r.Context().Done():
		}
	}
	project := s.serve(rec, r, faults)
	if !rec.dropped {
		rec.record(project)
	}
}

// serve authenticates an API call, applies the error-rate fault and routes it; it returns the
// project of the key ("" when refused), for the record.
func (s *Server) serve(w *recorder, r *http.Request, faults Faults) (projectID string) {
	s.mu.Lock()
	project := s.keys[r.Header.Get("X-BB-API-Key")]
	s.mu.Unlock()
	if project == nil {
		writeError(w, http.StatusUnauthorized, "Invalid API key")
		return ""
	}
	if faults.ErrorRate > 0 && mathrand.Float64() < faults.ErrorRate {
		writeError(w, http.StatusInternalServerError, "Unknown error: 500")
		return project.ID
	}

	s.route(w, r, project)
	return project.ID
}

// route dispatches an authenticated API call. A known collection path with another method is an
// unknown route (404), as the real API's router answers; a known item path with another method
// is 405.
func (s *Server) route(w *recorder, r *http.Request, project *Project) {
	p := strings.Split(strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/"), "/"), "/")
	notFound := func() {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.Path))
	}
	// methods runs the handler of r's method, or answers 405.
	methods := func(handlers map[string]func()) {
		if h, ok := handlers[r.Method]; ok {
			h()
			return
		}
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
	if len(p) < 2 || p[0] != "v1" {
		notFound()
		return
	}
	switch {
	case len(p) == 2 && p[1] == "sessions":
		switch r.Method {
		case http.MethodPost:
			s.create(w, r, project)
		case http.MethodGet:
			s.list(w, r, project)
		default:
			notFound()
		}
	case len(p) == 3 && p[1] == "sessions":
		methods(map[string]func(){
			http.MethodGet:  func() { s.get(w, p[2], project) },
			http.MethodPost: func() { s.update(w, r, p[2], project) },
		})
	case len(p) == 4 && p[1] == "sessions" && p[3] == "debug":
		methods(map[string]func(){http.MethodGet: func() { s.debug(w, p[2], project) }})
	case len(p) == 2 && p[1] == "contexts":
		if r.Method != http.MethodPost {
			notFound()
			return
		}
		s.createContext(w, r, project)
	case len(p) == 3 && p[1] == "contexts":
		methods(map[string]func(){
			http.MethodGet:    func() { s.getContext(w, p[2], project) },
			http.MethodPut:    func() { s.updateContext(w, p[2], project) },
			http.MethodDelete: func() { s.deleteContext(w, p[2], project) },
		})
	case len(p) == 2 && p[1] == "projects":
		if r.Method != http.MethodGet {
			notFound()
			return
		}
		s.listProjects(w, project)
	case len(p) == 3 && p[1] == "projects":
		methods(map[string]func(){http.MethodGet: func() { s.getProject(w, p[2], project) }})
	case len(p) == 4 && p[1] == "projects" && p[3] == "usage":
		methods(map[string]func(){http.MethodGet: func() { s.projectUsage(w, p[2], project) }})
	default:
		notFound()
	}
}
