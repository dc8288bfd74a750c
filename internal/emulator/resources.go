package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// sessionLiveURLs is the answer of GET /v1/sessions/{id}/debug (SessionLiveUrls).
type sessionLiveURLs struct {
	DebuggerFullscreenURL string     `json:"debuggerFullscreenUrl"`
	DebuggerURL           string     `json:"debuggerUrl"`
	WSURL                 string     `json:"wsUrl"`
	Pages                 []livePage `json:"pages"`
}

type livePage struct {
	ID                    string `json:"id"`
	URL                   string `json:"url"`
	FaviconURL            string `json:"faviconUrl"`
	Title                 string `json:"title"`
	DebuggerURL           string `json:"debuggerUrl"`
	DebuggerFullscreenURL string `json:"debuggerFullscreenUrl"`
}

// debug answers the live debugger URLs, shaped like the observed ones:
// https://www.browserbase.com/devtools-fullscreen/inspector.html?wss=connect.browserbase.com/debug/<session>/devtools/page/<page>?debug=true.
// A RUNNING session has one blank page; a PENDING or ended one lists no pages (the real API's
// answer for those is unconfirmed), but the top-level URLs are always given, as they are required.
func (s *Server) debug(w *recorder, id string, project *Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.lookup(w, id, project)
	if sess == nil {
		return
	}
	s.refresh(sess)
	pageID := s.extras[sess.ID].pageID
	target := fmt.Sprintf("connect.browserbase.com/debug/%s/devtools/page/%s", sess.ID, pageID)
	fullscreen := "https://www.browserbase.com/devtools-fullscreen/inspector.html?wss=" + target + "?debug=true"
	debugger := "https://www.browserbase.com/devtools/inspector.html?wss=" + target + "?debug=true"
	out := sessionLiveURLs{
		DebuggerFullscreenURL: fullscreen,
		DebuggerURL:           debugger,
		WSURL:                 "wss://" + target,
		Pages:                 []livePage{},
	}
	if sess.Status == "RUNNING" {
		out.Pages = append(out.Pages, livePage{
			ID: pageID, URL: "about:blank", Title: "about:blank",
			DebuggerURL: debugger, DebuggerFullscreenURL: fullscreen,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// browserContext is a stored context, as GET /v1/contexts/{id} shows it.
type browserContext struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	ProjectID string    `json:"projectId"`
}

// contextUpload is the answer of a context create or update: where and how to upload a
// user-data directory. The emulator accepts no uploads; uploadUrl is a placeholder.
type contextUpload struct {
	ID                       string `json:"id"`
	UploadURL                string `json:"uploadUrl"`
	PublicKey                string `json:"publicKey"`
	CipherAlgorithm          string `json:"cipherAlgorithm"`
	InitializationVectorSize int    `json:"initializationVectorSize"`
}

// contextPublicKey is a real RSA public key in PEM, made once per process, so a client that
// encrypts with it works; the emulator never decrypts anything.
var contextPublicKey = sync.OnceValue(func() string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("emulator: generating the context key: %v", err))
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("emulator: encoding the context key: %v", err))
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
})

func uploadOf(c *browserContext) contextUpload {
	return contextUpload{
		ID:                       c.ID,
		UploadURL:                "https://upload.browserbase.com/v1/contexts/" + c.ID,
		PublicKey:                contextPublicKey(),
		CipherAlgorithm:          "AES-256-CBC",
		InitializationVectorSize: 16,
	}
}

func (s *Server) createContext(w *recorder, r *http.Request, project *Project) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "could not read body")
		return
	}
	var req struct {
		ProjectID string `json:"projectId"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &req); err != nil {
			writeError(w, http.StatusBadRequest, "body must be a JSON object")
			return
		}
	}
	if req.ProjectID != "" && req.ProjectID != project.ID {
		writeError(w, http.StatusNotFound, "Project not found")
		return
	}
	s.mu.Lock()
	now := s.now()
	c := &browserContext{ID: uuid.NewString(), CreatedAt: now, UpdatedAt: now, ProjectID: project.ID}
	s.contexts[c.ID] = c
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, uploadOf(c))
}

// lookupContext finds a context of the project, or answers 404. Callers hold s.mu.
func (s *Server) lookupContext(w http.ResponseWriter, id string, project *Project) *browserContext {
	c, ok := s.contexts[id]
	if !ok || c.ProjectID != project.ID {
		writeError(w, http.StatusNotFound, "Context not found")
		return nil
	}
	return c
}

func (s *Server) getContext(w *recorder, id string, project *Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookupContext(w, id, project); c != nil {
		writeJSON(w, http.StatusOK, c)
	}
}

// updateContext is the deprecated PUT /v1/contexts/{id}: new upload details for the context.
func (s *Server) updateContext(w *recorder, id string, project *Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookupContext(w, id, project); c != nil {
		c.UpdatedAt = s.now()
		writeJSON(w, http.StatusOK, uploadOf(c))
	}
}

func (s *Server) deleteContext(w *recorder, id string, project *Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.lookupContext(w, id, project); c != nil {
		delete(s.contexts, c.ID)
		w.Header().Set("x-request-id", uuid.NewString())
		w.WriteHeader(http.StatusNoContent)
	}
}

// apiProject is a project as GET /v1/projects shows it.
type apiProject struct {
	ID             string    `json:"id"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	Name           string    `json:"name"`
	OwnerID        string    `json:"ownerId"`
	DefaultTimeout int       `json:"defaultTimeout"`
	// Concurrency is 0 for a project without a limit, which the real API never answers.
	Concurrency int `json:"concurrency"`
}

func apiProjectOf(p *Project) apiProject {
	return apiProject{
		ID: p.ID, CreatedAt: p.CreatedAt, UpdatedAt: p.CreatedAt, Name: p.Name, OwnerID: p.OwnerID,
		DefaultTimeout: p.DefaultTimeout, Concurrency: p.Concurrency,
	}
}

// listProjects answers the key's project: a key sees only its own.
func (s *Server) listProjects(w *recorder, project *Project) {
	writeJSON(w, http.StatusOK, []apiProject{apiProjectOf(project)})
}

func (s *Server) getProject(w *recorder, id string, project *Project) {
	if id != project.ID {
		writeError(w, http.StatusNotFound, "Project not found")
		return
	}
	writeJSON(w, http.StatusOK, apiProjectOf(project))
}

// projectUsage answers {browserMinutes, proxyBytes} over every session the emulator holds for the
// project: each session bills the minutes from startedAt to endedAt (or now), rounded up, and at
// least one.
func (s *Server) projectUsage(w *recorder, id string, project *Project) {
	if id != project.ID {
		writeError(w, http.StatusNotFound, "Project not found")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var usage struct {
		BrowserMinutes int64 `json:"browserMinutes"`
		ProxyBytes     int64 `json:"proxyBytes"`
	}
	for _, sid := range s.order {
		sess := s.refresh(s.sessions[sid])
		if sess.ProjectID != project.ID {
			continue
		}
		end := now
		if sess.EndedAt != nil {
			end = *sess.EndedAt
		}
		minutes := int64((end.Sub(sess.StartedAt) + time.Minute - 1) / time.Minute)
		usage.BrowserMinutes += max(minutes, 1)
		usage.ProxyBytes += sess.ProxyBytes
	}
	writeJSON(w, http.StatusOK, usage)
}
