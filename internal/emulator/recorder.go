package emulator

import (
	"net/http"
	"strings"
	"time"
)

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

// recorder is the ResponseWriter of an API call: it keeps the status answered, so the call can
// be recorded in Requests, and can drop the connection instead of answering.
type recorder struct {
	http.ResponseWriter
	status  int
	dropped bool
	// record logs the request; a dropped answer logs it before the connection closes, so the
	// log never lags behind what the client saw.
	record func(projectID string)
}

// newRecorder wraps w for the API call r; its record appends r to s.requests.
func (s *Server) newRecorder(w http.ResponseWriter, r *http.Request) *recorder {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	rec.record = func(project string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests = append(s.requests, Request{
			Time: s.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			ProjectID: project, Status: rec.status,
		})
	}
	return rec
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
