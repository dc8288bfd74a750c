package emulator

// Reading and forcing sessions from Go, for tests and the admin API: what a client of the API
// cannot see or do.

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
