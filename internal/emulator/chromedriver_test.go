package emulator

import (
	"net/http"
	"slices"
	"syscall"
	"testing"
)

// A session's chromedriver goes with its browser when the browser exits by itself (here it
// crashes), not only when the session is released: nothing else would ever stop it.
func TestChromedriverStopsWhenItsBrowserExits(t *testing.T) {
	f := browserFixture(t, BrowserOptions{})
	if FindChromedriver() == "" {
		t.Skip("SKIP: no chromedriver installed (apt-get install chromium-driver): Selenium is not tested")
	}
	created := f.create(t, testKey, map[string]any{"keepAlive": true})
	id := created["id"].(string)
	browserPIDs := f.emu.BrowserPIDs()
	if len(browserPIDs) != 1 {
		t.Fatalf("BrowserPIDs = %v, want the session's browser", browserPIDs)
	}
	req, _ := http.NewRequest(http.MethodGet, created["seleniumRemoteUrl"].(string)+"/status", nil)
	req.Header.Set("x-bb-signing-key", created["signingKey"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /webdriver/status: %d, want 200 from chromedriver", resp.StatusCode)
	}
	var driverPID int
	for _, pid := range f.emu.BrowserPIDs() {
		if !slices.Contains(browserPIDs, pid) {
			driverPID = pid
		}
	}
	if driverPID == 0 {
		t.Fatal("no chromedriver among BrowserPIDs after a Selenium call")
	}
	t.Cleanup(func() {
		if processAlive(driverPID) {
			_ = syscall.Kill(-driverPID, syscall.SIGKILL)
		}
	})

	_ = syscall.Kill(browserPIDs[0], syscall.SIGKILL)
	if !eventually(func() bool { return statusOf(t, f, id) == "COMPLETED" }) {
		t.Fatalf("status after the browser exited = %s, want COMPLETED", statusOf(t, f, id))
	}
	if !eventually(func() bool { return !processAlive(driverPID) }) {
		t.Fatalf("chromedriver %d still runs after its browser exited", driverPID)
	}
}
