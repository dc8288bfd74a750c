package emulator

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

var regions = map[string]string{
	"us-west-2":      "usw2",
	"us-east-1":      "use1",
	"eu-central-1":   "euc1",
	"ap-southeast-1": "apse1",
}

const maxBody = 1 << 20

// create is POST /v1/sessions: decode the body, admit it under the project's limits, commit
// the session, then answer (or fail, or drop the answer, as the faults say).
func (s *Server) create(w *recorder, r *http.Request, project *Project) {
	req, apiErr := decodeCreate(r, project)
	if apiErr != nil {
		writeError(w, apiErr.code, apiErr.message)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.awaitStoppingBrowsers(r.Context(), project)
	if !s.admit(w, project) {
		return
	}
	lose := s.faults.CreateCommitThenFail > 0 || s.faults.CreateCommitThenDrop > 0
	if lose && s.faults.CommitLate > 0 {
		s.late = append(s.late, lateCommit{at: s.now().Add(s.faults.CommitLate), req: req, project: project})
	} else {
		sess := s.commit(req, project, s.now())
		if b := s.browsers[sess.ID]; b != nil {
			// The answer says the browser is up: wait for it without holding the lock.
			s.mu.Unlock()
			err := b.waitReady(r.Context())
			s.mu.Lock()
			if err != nil {
				s.setStatus(sess, "ERROR")
				writeError(w, http.StatusInternalServerError, "Failed to start the browser: "+err.Error())
				return
			}
		}
		if !lose {
			writeJSON(w, http.StatusCreated, sess)
			return
		}
		sess.AnswerLost = true
	}
	if s.faults.CreateCommitThenFail > 0 {
		s.faults.CreateCommitThenFail--
		writeError(w, http.StatusInternalServerError, "Unknown error: 500")
		return
	}
	s.faults.CreateCommitThenDrop--
	s.mu.Unlock() // record takes the lock
	w.drop(project.ID)
	s.mu.Lock()
}

// apiError is an answer to refuse a call with.
type apiError struct {
	code    int
	message string
}

func badRequest(msg string) *apiError { return &apiError{http.StatusBadRequest, msg} }

// createRequest is a create body, decoded and validated.
type createRequest struct {
	body         map[string]any // as received, for Session.CreateBody
	apiHost      string         // the Host the create came to: the connect front door's host
	timeout      int            // seconds
	keepAlive    bool
	region       string
	host         string // the region's connect host part
	userMetadata map[string]any
	contextID    string
	persist      bool
}

// decodeCreate reads and validates a create body against the project. It takes no lock.
func decodeCreate(r *http.Request, project *Project) (*createRequest, *apiError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, badRequest("could not read body")
	}
	var body map[string]any
	var req struct {
		ProjectID       string         `json:"projectId"`
		Timeout         *float64       `json:"timeout"`
		KeepAlive       bool           `json:"keepAlive"`
		Region          string         `json:"region"`
		UserMetadata    map[string]any `json:"userMetadata"`
		BrowserSettings *struct {
			Context *struct {
				ID      string `json:"id"`
				Persist bool   `json:"persist"`
			} `json:"context"`
		} `json:"browserSettings"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, badRequest("body must be a JSON object")
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, badRequest("body: " + err.Error())
		}
	}
	if req.ProjectID != "" && req.ProjectID != project.ID {
		return nil, &apiError{http.StatusNotFound, "Project not found"}
	}
	out := &createRequest{body: body, apiHost: r.Host, timeout: project.DefaultTimeout, keepAlive: req.KeepAlive, userMetadata: req.UserMetadata}
	if req.Timeout != nil {
		t := *req.Timeout
		switch {
		case t != float64(int(t)):
			return nil, badRequest("body/timeout must be integer")
		case t < 60:
			return nil, badRequest("body/timeout must be >= 60")
		case t > 21600:
			return nil, badRequest("body/timeout must be <= 21600")
		}
		out.timeout = int(t)
	}
	out.region = req.Region
	if out.region == "" {
		out.region = "us-west-2"
	}
	var ok bool
	if out.host, ok = regions[out.region]; !ok {
		return nil, badRequest("body/region must be equal to one of the allowed values")
	}
	if len(project.Regions) > 0 && !slices.Contains(project.Regions, out.region) {
		return nil, badRequest(fmt.Sprintf("Region %s is not available for this project", out.region))
	}
	if req.UserMetadata != nil {
		if n := jsonStringLength(req.UserMetadata); n >= maxUserMetadata {
			return nil, badRequest(fmt.Sprintf("userMetadata must be less than %d characters when serialized (got %d)", maxUserMetadata, n))
		}
	}
	if req.BrowserSettings != nil && req.BrowserSettings.Context != nil {
		out.contextID = req.BrowserSettings.Context.ID
		out.persist = req.BrowserSettings.Context.Persist
	}
	return out, nil
}

// commit stores a new session, created at now, for an admitted create and returns it. Callers
// hold s.mu.
func (s *Server) commit(req *createRequest, project *Project, now time.Time) *Session {
	signingKey := randomHex(24)
	status := "RUNNING"
	extra := &sessionExtra{pageID: strings.ToUpper(randomHex(16))}
	if s.pendingFor > 0 {
		status = "PENDING"
		extra.runningAt = now.Add(s.pendingFor)
	}
	sess := &Session{
		ID:                uuid.NewString(),
		CreatedAt:         now,
		UpdatedAt:         now,
		StartedAt:         now,
		ExpiresAt:         now.Add(time.Duration(req.timeout) * time.Second),
		ProjectID:         project.ID,
		Status:            status,
		KeepAlive:         req.keepAlive,
		Region:            req.region,
		ContextID:         req.contextID,
		PersistsContext:   req.persist && req.contextID != "",
		UserMetadata:      req.userMetadata,
		ConnectURL:        fmt.Sprintf("wss://connect.%s.browserbase.com/?signingKey=%s", req.host, signingKey),
		SeleniumRemoteURL: fmt.Sprintf("https://connect.%s.browserbase.com/webdriver", req.host),
		SigningKey:        signingKey,
		CreateBody:        req.body,
	}
	if sess.PersistsContext {
		for _, other := range s.sessions {
			if other.ContextID == sess.ContextID && other.PersistsContext && (other.Status == "RUNNING" || other.Status == "PENDING") {
				sess.SharedContext = true
			}
		}
	}
	if s.wantsBrowser(project) {
		// Browserbase's shape on the emulator's host: the connect front door (connect.go).
		sess.ConnectURL = fmt.Sprintf("ws://%s/?signingKey=%s", req.apiHost, signingKey)
		sess.SeleniumRemoteURL = fmt.Sprintf("http://%s/webdriver", req.apiHost)
		s.startBrowser(sess)
	}
	s.sessions[sess.ID] = sess
	s.signingKeys[sha256.Sum256([]byte(signingKey))] = sess
	s.extras[sess.ID] = extra
	s.order = append(s.order, sess.ID)
	return sess
}

func (s *Server) get(w *recorder, id string, project *Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.lookup(w, id, project)
	if sess == nil {
		return
	}
	out := *s.refresh(sess)
	if !s.getReturnsConnect {
		out = out.withoutConnect()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) update(w *recorder, r *http.Request, id string, project *Project) {
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&body); err != nil || body.Status != "REQUEST_RELEASE" {
		writeError(w, http.StatusBadRequest, "body/status must be equal to constant: REQUEST_RELEASE")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.lookup(w, id, project)
	if sess == nil {
		return
	}
	// Releasing an ended session is a no-op answered 200 with the session as it is (its status
	// and endedAt unchanged). The real API's answer is unconfirmed; this is the assumption that
	// Browserbase's own Go client makes by retrying release as replay-safe (the API notes, §6).
	if !ended(s.refresh(sess).Status) {
		s.setStatus(sess, "COMPLETED")
	}
	writeJSON(w, http.StatusOK, sess.withoutConnect())
}

// lookup finds a session of the project, or answers 404. Callers hold s.mu.
func (s *Server) lookup(w http.ResponseWriter, id string, project *Project) *Session {
	sess, ok := s.sessions[id]
	if !ok || sess.ProjectID != project.ID {
		writeError(w, http.StatusNotFound, "Session not found")
		return nil
	}
	return sess
}

// withoutConnect is the session as list and release show it: without the connect fields.
func (sess Session) withoutConnect() Session {
	sess.ConnectURL, sess.SeleniumRemoteURL, sess.SigningKey = "", "", ""
	return sess
}

// sessionStatuses are the values of the status enum, the only ones list filters by.
var sessionStatuses = []string{"PENDING", "RUNNING", "ERROR", "TIMED_OUT", "COMPLETED"}

// list is GET /v1/sessions: the project's sessions, newest first, filtered by status (one enum
// value; others are refused 400, as the API's schema validation does) and by q. Sessions younger
// than Faults.ListLag are not shown yet.
func (s *Server) list(w *recorder, r *http.Request, project *Project) {
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains(sessionStatuses, status) {
		writeError(w, http.StatusBadRequest, "querystring/status must be equal to one of the allowed values")
		return
	}
	var match func(map[string]any) bool
	if q := r.URL.Query().Get("q"); q != "" {
		var err error
		if match, err = parseQuery(q); err != nil {
			writeError(w, http.StatusBadRequest, "querystring/q: "+err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Session{}
	now := s.now()
	for _, id := range s.order {
		sess := s.refresh(s.sessions[id])
		if now.Before(sess.CreatedAt.Add(s.faults.ListLag)) {
			continue
		}
		if sess.ProjectID != project.ID || (status != "" && sess.Status != status) || (match != nil && !match(sess.UserMetadata)) {
			continue
		}
		out = append(out, sess.withoutConnect())
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	writeJSON(w, http.StatusOK, out)
}

// refresh applies the passage of time: a PENDING session whose wait is over is RUNNING, and a
// live session past expiresAt has timed out. Callers hold s.mu.
func (s *Server) refresh(sess *Session) *Session {
	now := s.now()
	if x := s.extras[sess.ID]; x != nil && !x.runningAt.IsZero() && sess.Status == "PENDING" &&
		!now.Before(x.runningAt) && x.runningAt.Before(sess.ExpiresAt) {
		sess.Status = "RUNNING"
		sess.UpdatedAt = x.runningAt
		x.runningAt = time.Time{}
	}
	if !ended(sess.Status) && !now.Before(sess.ExpiresAt) {
		s.setStatusAt(sess, "TIMED_OUT", sess.ExpiresAt)
	}
	return sess
}

func (s *Server) setStatus(sess *Session, status string) { s.setStatusAt(sess, status, s.now()) }

// setStatusAt changes a session's status; an ended status stamps endedAt with at (once), a live
// one clears it. Callers hold s.mu.
func (s *Server) setStatusAt(sess *Session, status string, at time.Time) {
	sess.Status = status
	sess.UpdatedAt = s.now()
	if x := s.extras[sess.ID]; x != nil {
		x.runningAt = time.Time{}
	}
	switch {
	case !ended(status):
		sess.EndedAt = nil
	case sess.EndedAt == nil:
		sess.EndedAt = &at
	}
	if b := s.browsers[sess.ID]; b != nil && ended(status) {
		delete(s.browsers, sess.ID)
		s.retire(b, 0)
	}
}

func ended(status string) bool {
	return status == "COMPLETED" || status == "TIMED_OUT" || status == "ERROR"
}
