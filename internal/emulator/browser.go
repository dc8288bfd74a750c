package emulator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// FindChromium returns the first headless Chromium installed: Debian's chromium-headless-shell,
// then a full Chromium or Chrome (not the /usr/bin/chromium wrapper script, which reads
// /etc/chromium.d). "" when there is none.
func FindChromium() string {
	for _, p := range []string{"/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium"} {
		if isExecutable(p) {
			return p
		}
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// FindChromedriver returns chromedriver's path, or "".
func FindChromedriver() string {
	if p, err := exec.LookPath("chromedriver"); err == nil {
		return p
	}
	if p := "/usr/lib/chromium/chromedriver"; isExecutable(p) {
		return p
	}
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
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

// BrowserPIDs returns the process ids of the browsers (and chromedrivers) running now, for
// tests that check none is left behind.
func (s *Server) BrowserPIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for _, b := range s.browsers {
		if pid := b.pid(); pid > 0 {
			pids = append(pids, pid)
		}
		if b.driver != nil && b.driver.cmd.Process != nil {
			pids = append(pids, b.driver.cmd.Process.Pid)
		}
	}
	return pids
}

// Close stops every browser and waits for them to exit and their profiles to be removed. The
// server still answers afterwards, without browsers for new sessions.
func (s *Server) Close() {
	s.mu.Lock()
	s.browserOpts = nil
	var all []*browser
	for id, b := range s.browsers {
		all = append(all, b)
		delete(s.browsers, id)
	}
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

// browser is one session's headless Chromium, and its chromedriver once Selenium asked for one.
type browser struct {
	sessionID  string
	profileDir string
	cmd        *exec.Cmd
	ready      chan struct{} // closed when started (or failed: err set)
	err        error
	wsURL      string        // ws://127.0.0.1:<port>/devtools/browser/<id>
	addr       string        // 127.0.0.1:<port>
	exited     chan struct{} // closed when the process has exited and the profile is removed
	clients    int           // open CDP connections through the front door; guarded by Server.mu

	driverMu sync.Mutex
	driver   *chromedriver

	stopOnce sync.Once
}

func (b *browser) pid() int {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// launch starts Chromium. Its own process group (so that stop kills its helpers too) and SIGKILL
// when the emulator dies; flags as measured in the project's notes on a local browser: headless,
// no sandbox as root, bound to loopback on a port it picks, a fresh profile, and no background
// traffic to Google's hosts (this machine's network is closed).
func launch(opts *BrowserOptions, sessionID string) *browser {
	b := &browser{sessionID: sessionID, ready: make(chan struct{}), exited: make(chan struct{})}
	dir, err := os.MkdirTemp(opts.ProfileRoot, profilePrefix)
	if err != nil {
		b.fail(fmt.Errorf("creating the profile directory: %w", err))
		close(b.exited)
		return b
	}
	b.profileDir = dir
	args := []string{
		"--headless", "--disable-gpu", "--disable-dev-shm-usage",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir=" + dir,
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-quic", "--disable-breakpad",
		"--metrics-recording-only", "--mute-audio",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox")
	}
	args = append(args, "about:blank")
	b.cmd = exec.Command(opts.Chromium, args...)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	b.cmd.Stderr = &limitedWriter{buf: &stderr, max: 16 << 10}
	if err := b.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		b.fail(fmt.Errorf("starting %s: %w", filepath.Base(opts.Chromium), err))
		close(b.exited)
		return b
	}
	waited := make(chan struct{})
	go func() {
		_ = b.cmd.Wait()
		close(waited)
		// Helpers of a browser that exited by itself may linger in its group.
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		_ = os.RemoveAll(dir)
		close(b.exited)
	}()
	go func() {
		ws, err := waitDevToolsActivePort(dir, waited, opts.StartTimeout)
		if err != nil {
			b.kill()
			b.fail(fmt.Errorf("%w; its stderr: %s", err, lastLines(stderr.String(), 5)))
			return
		}
		b.wsURL = ws
		b.addr = strings.TrimPrefix(strings.SplitN(ws, "/devtools/", 2)[0], "ws://")
		close(b.ready)
	}()
	return b
}

func (b *browser) fail(err error) {
	b.err = err
	close(b.ready)
}

// waitDevToolsActivePort reads the browser's websocket URL from <profile>/DevToolsActivePort:
// its port on the first line, the path on the second.
func waitDevToolsActivePort(dir string, exited <-chan struct{}, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort")); err == nil {
			lines := strings.Fields(string(data))
			if len(lines) >= 2 {
				if port, err := strconv.Atoi(lines[0]); err == nil && port > 0 && strings.HasPrefix(lines[1], "/devtools/browser/") {
					return fmt.Sprintf("ws://127.0.0.1:%d%s", port, lines[1]), nil
				}
			}
		}
		select {
		case <-exited:
			return "", errors.New("the browser exited while starting")
		case <-deadline.C:
			return "", fmt.Errorf("the browser did not open its DevTools port within %s", timeout)
		case <-tick.C:
		}
	}
}

// kill kills the browser's process group at once.
func (b *browser) kill() {
	if pid := b.pid(); pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = b.cmd.Process.Kill()
	}
}

// stop kills the browser and its chromedriver and waits until the process has exited and the
// profile directory is gone. Safe to call more than once.
func (b *browser) stop() {
	b.stopOnce.Do(func() {
		b.driverMu.Lock()
		if b.driver != nil {
			b.driver.stop()
		}
		b.driverMu.Unlock()
		b.kill()
	})
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
	}
}

// waitReady waits until the browser has started, or ctx ends.
func (b *browser) waitReady(ctx context.Context) error {
	select {
	case <-b.ready:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chromedriver is a chromedriver attached to a session's browser, for Selenium.
type chromedriver struct {
	cmd  *exec.Cmd
	addr string // 127.0.0.1:<port>
}

// startChromedriver runs chromedriver on a free loopback port, with the same process
// attributes as the browser.
func startChromedriver(bin string, timeout time.Duration) (*chromedriver, error) {
	cmd := exec.Command(bin, "--port=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting chromedriver: %w", err)
	}
	d := &chromedriver{cmd: cmd}
	port := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		sent := false
		for lines.Scan() {
			// "ChromeDriver was started successfully on port 34567."
			if _, p, ok := strings.Cut(lines.Text(), "started successfully on port "); ok && !sent {
				port <- strings.TrimSuffix(strings.TrimSpace(p), ".")
				sent = true
			}
		}
		_ = cmd.Wait()
		if !sent {
			close(port)
		}
	}()
	select {
	case p, ok := <-port:
		if !ok {
			return nil, errors.New("chromedriver exited without saying its port")
		}
		d.addr = "127.0.0.1:" + p
		return d, nil
	case <-time.After(timeout):
		d.stop()
		return nil, errors.New("chromedriver did not start in time")
	}
}

func (d *chromedriver) stop() {
	if d.cmd.Process != nil {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		_ = d.cmd.Process.Kill()
	}
}

// limitedWriter keeps the first max bytes written to it.
type limitedWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
