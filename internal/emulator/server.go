package emulator

import (
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Project is a Browserbase project and its limits.
type Project struct {
	ID string
	// Name is the project's display name; AddKey makes it the ID when empty.
	Name string
	// OwnerID is the owning organization as GET /v1/projects shows it; AddKey makes it
	// "emulator-owner" when empty.
	OwnerID string
	// CreatedAt is the project's creation time; AddKey makes it the current time when zero.
	CreatedAt time.Time
	// Concurrency is the most sessions that may be PENDING or RUNNING at once (0: unlimited).
	Concurrency int
	// CreatesPerMinute is the most sessions created in any rolling 60 s (0: unlimited).
	CreatesPerMinute int
	// DefaultTimeout is the session timeout in seconds when a create does not give one.
	DefaultTimeout int
	// Regions, when set, are the only regions the project may create sessions in (a plan or
	// organisation restriction); others are answered 400.
	Regions []string
}

// Faults change how the emulator answers, to test how clients cope.
type Faults struct {
	// Latency is added before every API answer.
	Latency time.Duration
	// ErrorRate is the share (0..1) of API calls answered 500 without doing anything.
	ErrorRate float64
	// CreateCommitThenFail is how many of the next creates commit the session and then answer 500.
	CreateCommitThenFail int
	// CreateCommitThenDrop is how many of the next creates commit the session and then close the
	// connection without an answer.
	CreateCommitThenDrop int
	// CommitLate delays the commit of a create whose answer a fault above lost (500 or dropped):
	// the session is stored CommitLate after the answer was lost, as a create that Browserbase
	// finishes behind a timed-out load balancer would be, and appears only then. 0 commits it
	// before the answer.
	CommitLate time.Duration
	// ListLag hides a new session from GET /v1/sessions (list, with or without filters) until
	// ListLag after its creation, as an eventually consistent index would. Get by id sees it at once.
	ListLag time.Duration
}

// Session is the emulator's record of a session, as reported by Sessions.
type Session struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	StartedAt  time.Time  `json:"startedAt"`
	ExpiresAt  time.Time  `json:"expiresAt"`
	EndedAt    *time.Time `json:"endedAt,omitempty"`
	ProjectID  string     `json:"projectId"`
	Status     string     `json:"status"`
	ProxyBytes int64      `json:"proxyBytes"`
	KeepAlive  bool       `json:"keepAlive"`
	Region     string     `json:"region"`
	ContextID  string     `json:"contextId,omitempty"`
	// PersistsContext says that the session saves its state into ContextID when it ends.
	PersistsContext bool `json:"-"`
	// SharedContext says that another live session was persisting into the same context when
	// this one was created: Browserbase does not say what then happens to the saved state, so
	// tests check that the operator never lets it come to that.
	SharedContext     bool           `json:"-"`
	UserMetadata      map[string]any `json:"userMetadata,omitempty"`
	ConnectURL        string         `json:"connectUrl,omitempty"`
	SeleniumRemoteURL string         `json:"seleniumRemoteUrl,omitempty"`
	SigningKey        string         `json:"signingKey,omitempty"`
	// CreateBody is the create request as received, for assertions.
	CreateBody map[string]any `json:"-"`
	// AnswerLost says that the create answer carrying this session's connect details never
	// reached the caller (a CreateCommitThenFail or CreateCommitThenDrop fault), for assertions.
	AnswerLost bool `json:"-"`
}

// Request is one API call the emulator received.
type Request struct {
	Time      time.Time `json:"time"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Query     string    `json:"query,omitempty"`
	ProjectID string    `json:"projectId,omitempty"` // the project of the API key, "" if refused
	Status    int       `json:"status"`
}

// Kind names the session call a request was: create, get, list or release; "other" for the
// rest (debug URLs, contexts, projects).
func (r Request) Kind() string {
	id, isItem := strings.CutPrefix(r.Path, "/v1/sessions/")
	switch {
	case r.Path == "/v1/sessions" && r.Method == http.MethodPost:
		return "create"
	case r.Path == "/v1/sessions":
		return "list"
	case isItem && !strings.Contains(id, "/") && r.Method == http.MethodPost:
		return "release"
	case isItem && !strings.Contains(id, "/"):
		return "get"
	default:
		return "other"
	}
}

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
	// late are creates whose answer was lost, to be committed later (Faults.CommitLate).
	late []lateCommit
	// pendingFor is how long a new session stays PENDING before it is RUNNING; 0 starts it RUNNING.
	pendingFor time.Duration
}

// lateCommit is a create admitted now and committed at at.
type lateCommit struct {
	at      time.Time
	req     *createRequest
	project *Project
}

// settle commits the late creates whose time has come. Every entry point (ServeHTTP, the admin
// API, the exported readers) calls it, so time passes lazily here too. Callers hold s.mu.
func (s *Server) settle() {
	if len(s.late) == 0 {
		return
	}
	now := s.now()
	rest := s.late[:0]
	for _, l := range s.late {
		if now.Before(l.at) {
			rest = append(rest, l)
			continue
		}
		s.commit(l.req, l.project, l.at).AnswerLost = true
	}
	s.late = rest
}

// sessionExtra is what the emulator keeps about a session beyond what the API shows.
type sessionExtra struct {
	// runningAt is when a PENDING session becomes RUNNING; zero once it has, or when a status was
	// forced.
	runningAt time.Time
	// pageID is the CDP target id of the session's one page, for the debug URLs.
	pageID string
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
		getReturnsConnect:     true,
		concurrencyRetryAfter: 60 * time.Second,
	}
}

// AddKey makes key a valid API key of project p. Keys of the same project ID share its sessions
// and contexts; each key keeps the limits it was added with.
func (s *Server) AddKey(key string, p Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.DefaultTimeout == 0 {
		p.DefaultTimeout = 300
	}
	if p.Name == "" {
		p.Name = p.ID
	}
	if p.OwnerID == "" {
		p.OwnerID = "emulator-owner"
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now()
	}
	s.keys[key] = &p
}

// SetFaults replaces the fault settings.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// SetGetReturnsConnect says whether GET of a session returns connectUrl and signingKey.
func (s *Server) SetGetReturnsConnect(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.getReturnsConnect = v
}

// SetConcurrencyRetryAfter sets the Retry-After header of the 429 that refuses a create over the
// concurrency limit, in whole seconds rounded up (default 60 s). 0 or less sends no Retry-After,
// as the real API may not. The creation-rate 429 always says when its window frees a slot.
func (s *Server) SetConcurrencyRetryAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.concurrencyRetryAfter = max(d, 0)
}

// SetPendingFor makes sessions created from now on start PENDING and become RUNNING d after their
// creation (unless they end first). 0 or less, the default, starts them RUNNING at once. Like
// timeouts, the change is seen at the next read: nothing runs in the background.
func (s *Server) SetPendingFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pendingFor = max(d, 0)
}

// Reset forgets every session, context, recorded request, creation-rate window and fault, as if
// the emulator were new. API keys and the settings of the Set methods other than SetFaults stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*Session{}
	s.extras = map[string]*sessionExtra{}
	s.order = nil
	s.creates = map[string][]time.Time{}
	s.contexts = map[string]*browserContext{}
	s.requests = nil
	s.late = nil
	s.faults = Faults{}
	for id, b := range s.browsers {
		delete(s.browsers, id)
		go b.stop()
	}
}

// Sessions returns a copy of every session, oldest first.
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	out := make([]Session, 0, len(s.order))
	for _, id := range s.order {
		sess := s.refresh(s.sessions[id])
		out = append(out, *sess)
	}
	return out
}

// Session returns a copy of one session.
func (s *Server) Session(id string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	sess, ok := s.sessions[id]
	if !ok {
		return Session{}, false
	}
	return *s.refresh(sess), true
}

// Requests returns a copy of every API call received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// CountRequests counts the calls with this method whose path starts with pathPrefix.
func (s *Server) CountRequests(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Method == method && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// SetSessionStatus forces a session's status, as Browserbase would on its own (a disconnect
// ending it, an error). Ended statuses stamp endedAt; a live status clears it. Any status string
// is accepted, so clients can be shown values the enum does not have yet. A forced status is
// final until the next change: a PENDING session no longer turns RUNNING on its own, though a
// live one still times out at expiresAt.
func (s *Server) SetSessionStatus(id, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	sess, ok := s.sessions[id]
	if !ok {
		return false
	}
	s.setStatus(sess, status)
	return true
}

// ExpireSession moves a session's expiresAt to now, so it times out as if its timeout elapsed.
func (s *Server) ExpireSession(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	sess, ok := s.sessions[id]
	if !ok {
		return false
	}
	s.expire(sess)
	return true
}

// expire moves expiresAt to now and applies it. Callers hold s.mu.
func (s *Server) expire(sess *Session) {
	sess.ExpiresAt = s.now()
	s.refresh(sess)
}

// ServeHTTP implements the API, and the admin API under /admin/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/") {
		s.serveAdmin(w, r)
		return
	}
	if isConnectPath(r.URL.Path) {
		s.serveConnect(w, r)
		return
	}
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
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
	rec.record = func(project string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests = append(s.requests, Request{
			Time: s.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			ProjectID: project, Status: rec.status,
		})
	}
	project := s.serve(rec, r, faults)
	if !rec.dropped {
		rec.record(project)
	}
}

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

type recorder struct {
	http.ResponseWriter
	status  int
	dropped bool
	// record logs the request; a dropped answer logs it before the connection closes, so the
	// log never lags behind what the client saw.
	record func(projectID string)
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// drop closes the connection without an answer, as a crashed load balancer would.
func (r *recorder) drop(projectID string) {
	r.status = 0
	r.dropped = true
	r.record(projectID)
	if hj, ok := r.ResponseWriter.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
