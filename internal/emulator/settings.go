package emulator

import (
	"crypto/sha256"
	"time"
)

// The Server's configuration from Go: API keys, faults and the answers to the API's open
// questions (the admin API's /admin/faults and /admin/settings call these), and Reset.

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

// RemoveKey revokes key: calls with it are answered 401 from now on, as a key deleted in
// Browserbase's dashboard is. Its project's sessions are kept.
func (s *Server) RemoveKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, key)
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
	s.signingKeys = map[[sha256.Size]byte]*Session{}
	s.extras = map[string]*sessionExtra{}
	s.order = nil
	s.creates = map[string][]time.Time{}
	s.contexts = map[string]*browserContext{}
	s.requests = nil
	s.late = nil
	s.faults = Faults{}
	for id, b := range s.browsers {
		delete(s.browsers, id)
		s.retire(b, 0)
	}
}
