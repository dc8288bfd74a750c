package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// AdminSession is a session as the admin API shows it: every stored field, the connect fields
// whatever SetGetReturnsConnect says, and the create request as received.
type AdminSession struct {
	Session
	// CreateBody is the body of the create request, decoded; null when it had none.
	CreateBody map[string]any `json:"createBody"`
}

// serveAdmin is the admin API: no API key, no faults, nothing recorded. It is meant for a
// loopback listener only.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := strings.Split(strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/"), "/admin"), "/")[1:]
	only := func(method string, h func()) {
		if r.Method != method {
			writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
			return
		}
		h()
	}
	switch {
	case len(p) == 1 && p[0] == "sessions":
		only(http.MethodGet, func() { writeJSON(w, http.StatusOK, s.adminSessions()) })
	case len(p) == 3 && p[0] == "sessions" && p[2] == "status":
		only(http.MethodPost, func() { s.adminSetStatus(w, r, p[1]) })
	case len(p) == 3 && p[0] == "sessions" && p[2] == "expire":
		only(http.MethodPost, func() { s.adminExpire(w, p[1]) })
	case len(p) == 1 && p[0] == "requests":
		only(http.MethodGet, func() {
			reqs := s.Requests()
			if reqs == nil {
				reqs = []Request{}
			}
			writeJSON(w, http.StatusOK, reqs)
		})
	case len(p) == 1 && p[0] == "faults":
		switch r.Method {
		case http.MethodGet:
			s.mu.Lock()
			f := s.faults
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, f)
		case http.MethodPut:
			s.adminSetFaults(w, r)
		default:
			writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		}
	case len(p) == 1 && p[0] == "settings":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.settings())
		case http.MethodPut:
			s.adminSetSettings(w, r)
		default:
			writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		}
	case len(p) == 1 && p[0] == "reset":
		only(http.MethodPost, func() {
			s.Reset()
			writeJSON(w, http.StatusOK, struct{}{})
		})
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.Path))
	}
}

func (s *Server) adminSessions() []AdminSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AdminSession, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, adminView(s.refresh(s.sessions[id])))
	}
	return out
}

func adminView(sess *Session) AdminSession {
	return AdminSession{Session: *sess, CreateBody: sess.CreateBody}
}

// decodeStrict decodes a JSON body that must hold exactly one value with only known fields.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("body must be a JSON object")
		}
		return err
	}
	if dec.More() {
		return errors.New("body must hold one JSON value")
	}
	return nil
}

func (s *Server) adminSetStatus(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		Status string `json:"status"`
	}
	if err := decodeStrict(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if body.Status == "" {
		writeError(w, http.StatusBadRequest, "body/status must be a non-empty string")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		writeError(w, http.StatusNotFound, "Session not found")
		return
	}
	s.setStatus(sess, body.Status)
	writeJSON(w, http.StatusOK, adminView(s.refresh(sess)))
}

func (s *Server) adminExpire(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		writeError(w, http.StatusNotFound, "Session not found")
		return
	}
	s.expire(sess)
	writeJSON(w, http.StatusOK, adminView(sess))
}

func (s *Server) adminSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeStrict(r, &f); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, f)
}

// Settings are the emulator's answers to the API's open questions, as GET /admin/settings shows
// them. Unlike Faults, Reset keeps them.
type Settings struct {
	// GetReturnsConnect: GET /v1/sessions/{id} returns connectUrl, seleniumRemoteUrl and
	// signingKey (SetGetReturnsConnect).
	GetReturnsConnect bool `json:"getReturnsConnect"`
	// PendingFor, a Go duration: how long new sessions stay PENDING (SetPendingFor).
	PendingFor string `json:"pendingFor"`
	// ConcurrencyRetryAfter, a Go duration: the concurrency 429's Retry-After
	// (SetConcurrencyRetryAfter).
	ConcurrencyRetryAfter string `json:"concurrencyRetryAfter"`
}

func (s *Server) settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Settings{
		GetReturnsConnect:     s.getReturnsConnect,
		PendingFor:            s.pendingFor.String(),
		ConcurrencyRetryAfter: s.concurrencyRetryAfter.String(),
	}
}

// adminSetSettings is PUT /admin/settings: the fields given change, the others stay.
func (s *Server) adminSetSettings(w http.ResponseWriter, r *http.Request) {
	var body struct {
		GetReturnsConnect     *bool   `json:"getReturnsConnect"`
		PendingFor            *string `json:"pendingFor"`
		ConcurrencyRetryAfter *string `json:"concurrencyRetryAfter"`
	}
	if err := decodeStrict(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	durations := map[string]*time.Duration{}
	for name, v := range map[string]*string{"pendingFor": body.PendingFor, "concurrencyRetryAfter": body.ConcurrencyRetryAfter} {
		if v == nil {
			continue
		}
		d, err := time.ParseDuration(*v)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("body/%s must be a non-negative Go duration", name))
			return
		}
		durations[name] = &d
	}
	if body.GetReturnsConnect != nil {
		s.SetGetReturnsConnect(*body.GetReturnsConnect)
	}
	if d := durations["pendingFor"]; d != nil {
		s.SetPendingFor(*d)
	}
	if d := durations["concurrencyRetryAfter"]; d != nil {
		s.SetConcurrencyRetryAfter(*d)
	}
	writeJSON(w, http.StatusOK, s.settings())
}
