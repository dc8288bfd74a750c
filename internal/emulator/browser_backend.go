package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// BrowserMode says whether sessions get a real browser.
type BrowserMode string

const (
	// BrowserOff gives sessions the fake connectUrl of the real API's shape, which leads nowhere.
	BrowserOff BrowserMode = "off"
	// BrowserAuto gives every session a headless Chromium when one is installed, and behaves as
	// BrowserOff when none is.
	BrowserAuto BrowserMode = "auto"
	// BrowserRequired gives every session a headless Chromium, and refuses creates (500) when
	// none can start.
	BrowserRequired BrowserMode = "required"
)

// ParseBrowserMode parses off, auto or required.
func ParseBrowserMode(s string) (BrowserMode, error) {
	switch m := BrowserMode(s); m {
	case BrowserOff, BrowserAuto, BrowserRequired:
		return m, nil
	}
	return "", fmt.Errorf("browser mode %q: want off, auto or required", s)
}

// DefaultMaxBrowsers is the default cap on browsers running at once.
const DefaultMaxBrowsers = 8

// BrowserOptions configure the browser backend (EnableBrowsers).
type BrowserOptions struct {
	Mode BrowserMode
	// Chromium is the browser binary; empty: FindChromium.
	Chromium string
	// Chromedriver serves seleniumRemoteUrl; empty: FindChromedriver. Without one, Selenium
	// requests are answered 501.
	Chromedriver string
	// MaxBrowsers caps the browsers running at once (0: DefaultMaxBrowsers); a create beyond it
	// is answered 429 as Browserbase answers one over the concurrency limit.
	MaxBrowsers int
	// Projects, when set, are the only projects whose sessions get a browser; the others keep
	// the fake connectUrl.
	Projects []string
	// StartTimeout bounds a browser's start (0: 30 s).
	StartTimeout time.Duration
	// ProfileRoot holds the per-session --user-data-dir directories (empty: the system's
	// temporary directory).
	ProfileRoot string
}

// EnableBrowsers turns the browser backend on for sessions created from now on. It returns the
// mode in force: BrowserAuto without a Chromium becomes BrowserOff; BrowserRequired without one
// is an error (and leaves the backend off).
func (s *Server) EnableBrowsers(opts BrowserOptions) (BrowserMode, error) {
	if opts.Mode == "" || opts.Mode == BrowserOff {
		s.mu.Lock()
		s.browserOpts = nil
		s.mu.Unlock()
		return BrowserOff, nil
	}
	if opts.Chromium == "" {
		opts.Chromium = FindChromium()
	}
	if opts.Chromium == "" {
		if opts.Mode == BrowserRequired {
			return BrowserOff, errors.New("no Chromium found: install chromium-headless-shell (Debian, Ubuntu) or give its path")
		}
		return BrowserOff, nil
	}
	if !isExecutable(opts.Chromium) {
		return BrowserOff, fmt.Errorf("%s is not an executable", opts.Chromium)
	}
	if opts.Chromedriver == "" {
		opts.Chromedriver = FindChromedriver()
	}
	if opts.MaxBrowsers <= 0 {
		opts.MaxBrowsers = DefaultMaxBrowsers
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.ProfileRoot == "" {
		opts.ProfileRoot = os.TempDir()
	}
	removeStaleProfiles(opts.ProfileRoot)
	s.mu.Lock()
	s.browserOpts = &opts
	s.mu.Unlock()
	return opts.Mode, nil
}

// removeStaleProfiles removes the profile directories that a SIGKILLed emulator left in root:
// those no running process names on its command line.
func removeStaleProfiles(root string) {
	dirs, _ := filepath.Glob(filepath.Join(root, profilePrefix+"*"))
	if len(dirs) == 0 {
		return
	}
	var cmdlines [][]byte
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err == nil {
			if c, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline")); err == nil {
				cmdlines = append(cmdlines, c)
			}
		}
	}
	for _, dir := range dirs {
		inUse := false
		for _, c := range cmdlines {
			if bytes.Contains(c, []byte(dir)) {
				inUse = true
				break
			}
		}
		if !inUse {
			_ = os.RemoveAll(dir)
		}
	}
}

// profilePrefix names the per-session profile directories.
const profilePrefix = "bb-emulator-browser-"

// BrowserPIDs returns the process ids of the browsers (and chromedrivers) running now, those
// still stopping included, for tests that check none is left behind.
func (s *Server) BrowserPIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for _, b := range s.allBrowsers() {
		if pid := b.pid(); pid > 0 {
			pids = append(pids, pid)
		}
		b.driverMu.Lock()
		if b.driver != nil && b.driver.cmd.Process != nil {
			pids = append(pids, b.driver.cmd.Process.Pid)
		}
		b.driverMu.Unlock()
	}
	return pids
}

// allBrowsers are the browsers running and those still stopping. Callers hold s.mu.
func (s *Server) allBrowsers() []*browser {
	all := make([]*browser, 0, len(s.browsers)+len(s.stopping))
	for _, b := range s.browsers {
		all = append(all, b)
	}
	for b := range s.stopping {
		all = append(all, b)
	}
	return all
}

// Close stops every browser, those already stopping included, and waits for them to exit and
// their profiles to be removed. The server still answers afterwards, without browsers for new
// sessions.
func (s *Server) Close() {
	s.mu.Lock()
	s.browserOpts = nil
	all := s.allBrowsers()
	clear(s.browsers)
	s.mu.Unlock()
	for _, b := range all {
		b.stop()
	}
}

// wantsBrowser says whether a session of project gets a browser. Callers hold s.mu.
func (s *Server) wantsBrowser(project *Project) bool {
	o := s.browserOpts
	if o == nil {
		return false
	}
	if len(o.Projects) == 0 {
		return true
	}
	for _, p := range o.Projects {
		if p == project.ID {
			return true
		}
	}
	return false
}

// browsersInUse counts the browsers that hold a place under MaxBrowsers: those running or
// starting, those still stopping, and those of the late creates still to be committed
// (Faults.CommitLate), which will start one. Callers hold s.mu.
func (s *Server) browsersInUse() int {
	n := len(s.browsers) + len(s.stopping)
	for _, l := range s.late {
		if s.wantsBrowser(l.project) {
			n++
		}
	}
	return n
}

// startBrowser launches the session's browser and registers it; it stops when the session ends
// (setStatusAt), at expiresAt, and ends the session as soon as it exits by itself (a crash, or
// Browser.close sent past the front door). Callers hold s.mu.
func (s *Server) startBrowser(sess *Session) {
	id := sess.ID
	s.browsers[id] = launch(s.browserOpts, id, func(b *browser) {
		<-b.ready // a start that failed is an ERROR, not a completed session
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.browsers[id] != b {
			return // stopped because the session ended
		}
		delete(s.browsers, id)
		s.retire(b, 0) // its helpers and profile are still to go
		status := "COMPLETED"
		if b.err != nil {
			status = "ERROR"
		}
		if sess := s.sessions[id]; sess != nil && !ended(s.refresh(sess).Status) {
			s.setStatus(sess, status)
		}
	})
	// Time passes lazily for the API, but a browser must not outlive its session's timeout.
	time.AfterFunc(time.Until(sess.ExpiresAt), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if sess := s.sessions[id]; sess != nil {
			s.refresh(sess)
		}
	})
}

// retire stops a browser that is no longer any session's (the caller has removed it from
// s.browsers), after letting it exit by itself for up to grace. Until it has exited it counts
// against MaxBrowsers. Callers hold s.mu.
func (s *Server) retire(b *browser, grace time.Duration) {
	s.stopping[b] = struct{}{}
	go func() {
		if grace > 0 {
			select {
			case <-b.exited:
			case <-time.After(grace):
			}
		}
		b.stop()
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.stopping, b)
		close(s.stopped)
		s.stopped = make(chan struct{})
	}()
}

// stoppingWait bounds how long a create waits for stopping browsers to free a place under
// MaxBrowsers; a stop takes some hundred milliseconds.
const stoppingWait = 2 * time.Second

// awaitStoppingBrowsers lets a create that only the browsers still stopping keep over
// MaxBrowsers wait until they have stopped, for up to stoppingWait: so a release followed at
// once by a create at the cap succeeds, as it does with Browserbase, where a 429 would make the
// client wait its Retry-After. Callers hold s.mu, which is released while waiting.
func (s *Server) awaitStoppingBrowsers(ctx context.Context, project *Project) {
	deadline := time.NewTimer(stoppingWait)
	defer deadline.Stop()
	for {
		o := s.browserOpts
		if o == nil || !s.wantsBrowser(project) || len(s.stopping) == 0 {
			return
		}
		if inUse := s.browsersInUse(); inUse < o.MaxBrowsers || inUse-len(s.stopping) >= o.MaxBrowsers {
			return // a place is free, or none would be once they have stopped
		}
		stopped := s.stopped
		s.mu.Unlock()
		select {
		case <-stopped:
		case <-ctx.Done():
		case <-deadline.C:
			s.mu.Lock()
			return
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			return
		}
	}
}
