package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// admit applies the project's limits to a create: the most sessions PENDING or RUNNING at once
// (concurrency) and the most creates in any rolling 60 s. A create over either is answered 429,
// in the API's error shape, with a Retry-After; an admitted one takes its place in the creation
// window. Callers hold s.mu.
func (s *Server) admit(w http.ResponseWriter, project *Project) bool {
	now := s.now()
	if project.Concurrency > 0 {
		if active := s.activeSessions(project.ID); active >= project.Concurrency {
			if d := s.concurrencyRetryAfter; d > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
			}
			writeError(w, http.StatusTooManyRequests, fmt.Sprintf(
				"You've exceeded your max concurrent sessions limit (limit %d, currently %d)", project.Concurrency, active))
			return false
		}
	}
	if o := s.browserOpts; o != nil && s.wantsBrowser(project) {
		// The emulator's own cap on browsers, answered as Browserbase answers its limits.
		if inUse := s.browsersInUse(); inUse >= o.MaxBrowsers {
			if d := s.concurrencyRetryAfter; d > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
			}
			writeError(w, http.StatusTooManyRequests, fmt.Sprintf(
				"You've exceeded your max concurrent sessions limit (limit %d, currently %d)", o.MaxBrowsers, inUse))
			return false
		}
	}
	if project.CreatesPerMinute > 0 {
		window := s.creates[project.ID][:0]
		for _, t := range s.creates[project.ID] {
			if now.Sub(t) < time.Minute {
				window = append(window, t)
			}
		}
		s.creates[project.ID] = window
		if len(window) >= project.CreatesPerMinute {
			wait := time.Minute - now.Sub(window[0])
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeError(w, http.StatusTooManyRequests, fmt.Sprintf(
				"You've exceeded your session creation rate limit (limit %d per minute)", project.CreatesPerMinute))
			return false
		}
	}
	s.creates[project.ID] = append(s.creates[project.ID], now)
	return true
}

// activeSessions counts the project's sessions that are not ended. Callers hold s.mu.
func (s *Server) activeSessions(projectID string) int {
	active := 0
	for _, sess := range s.sessions {
		if sess.ProjectID == projectID && !ended(s.refresh(sess).Status) {
			active++
		}
	}
	return active
}
