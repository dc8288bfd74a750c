package emulator

import (
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
	clients    int           // CDP connections through the front door, open or opening; guarded by Server.mu
	// upgraded says that a CDP connection through the front door has been upgraded to a
	// websocket; guarded by Server.mu.
	upgraded bool

	driverMu sync.Mutex
	driver   *chromedriver
	// driverClosed says that the browser has exited or is being stopped, so that no chromedriver
	// may start for it any more; guarded by driverMu.
	driverClosed bool

	stopOnce sync.Once
}

func (b *browser) pid() int {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// chromiumArgs are Chromium's flags for a browser with its profile in dir.
func chromiumArgs(dir string) []string {
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
	return append(args, "about:blank")
}

// launch starts Chromium. Its own process group (so that stop kills its helpers too) and SIGKILL
// when the emulator dies; flags as measured in the project's notes on a local browser: headless,
// no sandbox as root, bound to loopback on a port it picks, a fresh profile, and no background
// traffic to Google's hosts (this machine's network is closed). onExit, when not nil, is called
// as soon as the process has exited (by itself or stopped), before its helpers are killed and
// its profile removed.
func launch(opts *BrowserOptions, sessionID string, onExit func(*browser)) *browser {
	b := &browser{sessionID: sessionID, ready: make(chan struct{}), exited: make(chan struct{})}
	dir, err := os.MkdirTemp(opts.ProfileRoot, profilePrefix)
	if err != nil {
		b.fail(fmt.Errorf("creating the profile directory: %w", err))
		close(b.exited)
		return b
	}
	b.profileDir = dir
	b.cmd = exec.Command(opts.Chromium, chromiumArgs(dir)...)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Stderr is a pipe of our own, not one exec.Cmd copies: Chromium's helpers inherit it and
	// hold it open after the browser has exited, and Wait would wait for them too.
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		b.fail(fmt.Errorf("creating the stderr pipe: %w", err))
		close(b.exited)
		return b
	}
	b.cmd.Stderr = stderrW
	err = b.cmd.Start()
	_ = stderrW.Close()
	if err != nil {
		_ = stderrR.Close()
		_ = os.RemoveAll(dir)
		b.fail(fmt.Errorf("starting %s: %w", filepath.Base(opts.Chromium), err))
		close(b.exited)
		return b
	}
	stderr := &limitedWriter{max: 16 << 10}
	stderrDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(stderr, stderrR)
		_ = stderrR.Close()
		close(stderrDone)
	}()
	waited := make(chan struct{})
	go b.reap(dir, waited, onExit)
	go func() {
		ws, err := waitDevToolsActivePort(dir, waited, opts.StartTimeout)
		if err != nil {
			b.kill()
			// The group is dead, so its stderr ends: wait for the last lines, which say why.
			select {
			case <-stderrDone:
			case <-time.After(2 * time.Second):
			}
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

// kill kills the browser's process group at once, unless it has been reaped already (its
// process group id may belong to another group by then).
func (b *browser) kill() {
	select {
	case <-b.exited:
		return
	default:
	}
	if pid := b.pid(); pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = b.cmd.Process.Kill()
	}
}

// stop kills the browser and its chromedriver and waits until the process has exited and the
// profile directory is gone. Safe to call more than once.
func (b *browser) stop() {
	b.stopOnce.Do(func() {
		b.closeDriver()
		b.kill()
	})
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
	}
}

// closeDriver stops the chromedriver, if one runs, and keeps another from starting: it would
// drive a browser that is gone.
func (b *browser) closeDriver() {
	b.driverMu.Lock()
	defer b.driverMu.Unlock()
	b.driverClosed = true
	if b.driver != nil {
		b.driver.stop()
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

// limitedWriter keeps the first max bytes written to it.
type limitedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
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

func (w *limitedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// reap waits for the browser process to exit, closes waited, ends the session (onExit) before
// anything slower, then stops its chromedriver and helpers and removes its profile in dir.
func (b *browser) reap(dir string, waited chan struct{}, onExit func(*browser)) {
	_ = b.cmd.Wait()
	close(waited)
	// The session ends first: reaping takes a while, and a client that reconnected meanwhile
	// would be sent to a browser that is gone.
	if onExit != nil {
		onExit(b)
	}
	b.closeDriver()
	// Helpers of a browser that exited by itself may linger in its group.
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	_ = os.RemoveAll(dir)
	close(b.exited)
}
