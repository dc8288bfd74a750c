package emulator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needBrowser skips a test where no Chromium is installed, saying so, unless
// EMULATOR_BROWSER_REQUIRED is set (.ci/run sets it after installing one): then it fails.
func needBrowser(t *testing.T) string {
	t.Helper()
	bin := FindChromium()
	if bin == "" {
		if os.Getenv("EMULATOR_BROWSER_REQUIRED") != "" {
			t.Fatal("no Chromium installed, and EMULATOR_BROWSER_REQUIRED is set")
		}
		t.Skip("SKIP: no Chromium installed (apt-get install chromium-headless-shell): the browser backend is not tested")
	}
	return bin
}

// browserFixture is a fixture whose emulator runs browsers, stopped at the end of the test.
func browserFixture(t *testing.T, opts BrowserOptions) *fixture {
	t.Helper()
	needBrowser(t)
	f := newFixture(t, Project{}, false)
	if opts.Mode == "" {
		opts.Mode = BrowserRequired
	}
	if opts.ProfileRoot == "" {
		opts.ProfileRoot = t.TempDir()
	}
	mode, err := f.emu.EnableBrowsers(opts)
	if err != nil || mode != opts.Mode {
		t.Fatalf("EnableBrowsers = %s, %v", mode, err)
	}
	t.Cleanup(func() {
		pids := f.emu.BrowserPIDs()
		f.emu.Close()
		for _, pid := range pids {
			if !eventually(func() bool { return !processAlive(pid) }) {
				t.Errorf("browser process %d still runs after Close", pid)
			}
		}
	})
	return f
}

// processAlive says whether pid runs (a zombie counts as gone).
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// processesMentioning lists the live processes whose command line contains s.
func processesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestParseBrowserMode(t *testing.T) {
	for _, ok := range []string{"off", "auto", "required"} {
		if m, err := ParseBrowserMode(ok); err != nil || string(m) != ok {
			t.Errorf("ParseBrowserMode(%q) = %q, %v", ok, m, err)
		}
	}
	for _, bad := range []string{"", "on", "Auto"} {
		if _, err := ParseBrowserMode(bad); err == nil {
			t.Errorf("ParseBrowserMode(%q) succeeded", bad)
		}
	}
}

func TestEnableBrowsersWithoutABrowser(t *testing.T) {
	emu := New()
	if _, err := emu.EnableBrowsers(BrowserOptions{Mode: BrowserRequired, Chromium: "/nonexistent/chromium"}); err == nil {
		t.Error("required mode with a missing binary: no error")
	}
	if m, err := emu.EnableBrowsers(BrowserOptions{Mode: BrowserOff}); err != nil || m != BrowserOff {
		t.Errorf("off: %s, %v", m, err)
	}
}

// A browser starts with the session, in its own profile, and the session's end stops it and
// removes the profile.
func TestBrowserLifecycle(t *testing.T) {
	root := t.TempDir()
	f := browserFixture(t, BrowserOptions{ProfileRoot: root})
	created := f.create(t, testKey, map[string]any{"keepAlive": true})
	id := created["id"].(string)
	pids := f.emu.BrowserPIDs()
	if len(pids) != 1 || !processAlive(pids[0]) {
		t.Fatalf("BrowserPIDs = %v, want one running browser", pids)
	}
	profiles, _ := filepath.Glob(filepath.Join(root, "bb-emulator-browser-*"))
	if len(profiles) != 1 {
		t.Fatalf("profiles = %v, want one", profiles)
	}
	if got := processesMentioning(profiles[0]); len(got) == 0 {
		t.Fatalf("no process runs with profile %s", profiles[0])
	}
	if resp, data := f.release(t, testKey, id); resp.StatusCode != http.StatusOK {
		t.Fatalf("release: %d %s", resp.StatusCode, data)
	}
	if !eventually(func() bool { return !processAlive(pids[0]) && len(processesMentioning(profiles[0])) == 0 }) {
		t.Fatalf("browser %d (or a helper) still runs after release", pids[0])
	}
	if !eventually(func() bool { _, err := os.Stat(profiles[0]); return os.IsNotExist(err) }) {
		t.Errorf("profile %s still there after release", profiles[0])
	}

	// A timeout stops it too.
	id = f.create(t, testKey, map[string]any{"keepAlive": true})["id"].(string)
	pids = f.emu.BrowserPIDs()
	f.emu.ExpireSession(id)
	if !eventually(func() bool { return !processAlive(pids[0]) }) {
		t.Fatalf("browser %d still runs after the session timed out", pids[0])
	}
	if s, _ := f.emu.Session(id); s.Status != "TIMED_OUT" {
		t.Errorf("status %s, want TIMED_OUT", s.Status)
	}
}

// Beyond MaxBrowsers, creates are answered as Browserbase answers its concurrency limit.
func TestBrowserCap(t *testing.T) {
	f := browserFixture(t, BrowserOptions{MaxBrowsers: 1})
	id := f.create(t, testKey, map[string]any{"keepAlive": true})["id"].(string)
	resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, map[string]any{})
	wantError(t, resp, data, http.StatusTooManyRequests)
	if !strings.Contains(string(data), "max concurrent sessions limit (limit 1, currently 1)") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 body %s, Retry-After %q", data, resp.Header.Get("Retry-After"))
	}
	f.release(t, testKey, id)
	f.create(t, testKey, map[string]any{})
}

// The emulator's death takes its browsers with it, even when it is SIGKILLed: the test binary
// runs an emulator with a browser in a child process, and the test kills that process.
func TestBrowsersDieWithTheEmulator(t *testing.T) {
	needBrowser(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperEmulatorProcess$")
	root := t.TempDir()
	cmd.Env = append(os.Environ(), "EMULATOR_HELPER_PROCESS=1", "EMULATOR_HELPER_PROFILES="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	var pid int
	var profile string
	for lines.Scan() {
		if _, err := fmt.Sscanf(lines.Text(), "browser %d %s", &pid, &profile); err == nil {
			break
		}
	}
	if pid == 0 {
		t.Fatal("the helper never reported its browser")
	}
	if !processAlive(pid) {
		t.Fatalf("browser %d is not running", pid)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if !eventually(func() bool { return len(processesMentioning(profile)) == 0 }) {
		t.Fatalf("processes %v of the SIGKILLed emulator's browser still run", processesMentioning(profile))
	}
	// The profile stayed behind (nothing ran to remove it); the next emulator removes it.
	if _, err := os.Stat(profile); err != nil {
		t.Fatalf("profile %s: %v, want it left behind by the SIGKILL", profile, err)
	}
	if _, err := New().EnableBrowsers(BrowserOptions{Mode: BrowserRequired, ProfileRoot: root}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("stale profile %s not removed by the next EnableBrowsers: %v", profile, err)
	}
}

// TestHelperEmulatorProcess is the child of TestBrowsersDieWithTheEmulator.
func TestHelperEmulatorProcess(t *testing.T) {
	if os.Getenv("EMULATOR_HELPER_PROCESS") == "" {
		t.Skip("helper process for TestBrowsersDieWithTheEmulator")
	}
	emu := New()
	emu.AddKey(testKey, Project{ID: "p"})
	if _, err := emu.EnableBrowsers(BrowserOptions{Mode: BrowserRequired, ProfileRoot: os.Getenv("EMULATOR_HELPER_PROFILES")}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/sessions", strings.NewReader(`{}`))
	req.Header.Set("X-BB-API-Key", testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", resp, err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&map[string]any{})
	pids := emu.BrowserPIDs()
	profiles, _ := filepath.Glob(filepath.Join(os.Getenv("EMULATOR_HELPER_PROFILES"), "bb-emulator-browser-*"))
	fmt.Printf("browser %d %s\n", pids[0], profiles[0])
	time.Sleep(5 * time.Minute) // until killed
}
