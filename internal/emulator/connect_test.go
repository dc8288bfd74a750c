package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"golang.org/x/net/websocket"
)

// pageServer serves one page with a title, on loopback.
func pageServer(t *testing.T, title string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><html><head><title>"+title+"</title></head><body>hello</body></html>")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// titleThrough loads page in the browser behind connectURL with chromedp (remote.NewAllocator,
// chromedp v0.23's NewRemoteAllocator) and returns its title.
func titleThrough(t *testing.T, connectURL, page string, opts ...remote.Option) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := remote.NewAllocator(ctx, connectURL, opts...)
	defer cancelAlloc()
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	if _, err := chromedp.Run(tabCtx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("chromedp through the front door: %v", redactKey(err.Error(), connectURL))
	}
	title, err := chromedp.Run(tabCtx, chromedp.Title())
	if err != nil {
		t.Fatalf("reading the title: %v", redactKey(err.Error(), connectURL))
	}
	return title
}

// redactKey keeps a connect URL's signing key out of test logs.
func redactKey(s, connectURL string) string {
	if u, err := url.Parse(connectURL); err == nil {
		if key := u.Query().Get("signingKey"); key != "" {
			s = strings.ReplaceAll(s, key, "REDACTED")
		}
	}
	return s
}

func statusOf(t *testing.T, f *fixture, id string) string {
	t.Helper()
	s, ok := f.emu.Session(id)
	if !ok {
		t.Fatalf("no session %s", id)
	}
	return s.Status
}

// chromedp reaches the session's browser through connectUrl, by the websocket URL as given
// and through /json/version; a session without keepAlive ends when its last client leaves, and
// its URL then answers 410.
func TestConnectWithChromedp(t *testing.T) {
	f := browserFixture(t, BrowserOptions{})
	page := pageServer(t, "Hello through the emulator")
	created := f.create(t, testKey, map[string]any{})
	id, connectURL := created["id"].(string), created["connectUrl"].(string)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	if want := "ws://" + host + "/?signingKey=" + created["signingKey"].(string); connectURL != want {
		t.Fatalf("connectUrl does not have Browserbase's shape on the emulator's host")
	}
	if got := created["seleniumRemoteUrl"]; got != "http://"+host+"/webdriver" {
		t.Errorf("seleniumRemoteUrl = %v", got)
	}

	// /json/version points back at the front door, never at the browser's own port.
	resp, err := http.Get(strings.Replace(connectURL, "ws://", "http://", 1)[:len("http://"+host)] + "/json/version?" + strings.SplitN(connectURL, "?", 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	var version map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&version)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || version["webSocketDebuggerUrl"] != connectURL || version["Browser"] == nil {
		t.Fatalf("/json/version: %d, Browser %v, webSocketDebuggerUrl points back at the front door: %v",
			resp.StatusCode, version["Browser"], version["webSocketDebuggerUrl"] == connectURL)
	}

	// A keepAlive-less session ends at its last disconnect, so use two clients at once: one
	// holds the session while the other comes and goes.
	holder, err := websocket.Dial(connectURL, "", "http://localhost/")
	if err != nil {
		t.Fatalf("raw CDP client: %v", redactKey(err.Error(), connectURL))
	}
	if got := titleThrough(t, connectURL, page, remote.NoModifyURL); got != "Hello through the emulator" {
		t.Errorf("title by the websocket URL = %q", got)
	}
	if got := titleThrough(t, connectURL, page); got != "Hello through the emulator" {
		t.Errorf("title through /json/version = %q", got)
	}
	if got := statusOf(t, f, id); got != "RUNNING" {
		t.Fatalf("status with a client still connected = %s, want RUNNING", got)
	}
	_ = holder.Close()
	if !eventually(func() bool { return statusOf(t, f, id) == "COMPLETED" }) {
		t.Fatalf("status after the last client left = %s, want COMPLETED", statusOf(t, f, id))
	}
	if !eventually(func() bool { return len(f.emu.BrowserPIDs()) == 0 }) {
		t.Fatal("the ended session's browser still runs")
	}

	// The ended session's URL is refused clearly.
	_, err = websocket.Dial(connectURL, "", "http://localhost/")
	if err == nil || !strings.Contains(err.Error(), "bad status") {
		t.Errorf("dial an ended session: %v, want a refusal", err)
	}
	versionURL := "http://" + host + "/json/version?" + strings.SplitN(connectURL, "?", 2)[1]
	resp, err = http.Get(versionURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("/json/version of an ended session: %d, want 410", resp.StatusCode)
	}
	for _, bad := range []string{"/json/version?signingKey=nope", "/json/version"} {
		resp, err := http.Get("http://" + host + bad)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s: %d, want 401", bad, resp.StatusCode)
		}
	}
}

// A keepAlive session outlives its clients; Browser.close (Puppeteer's browser.close()) ends it.
func TestConnectKeepAliveAndBrowserClose(t *testing.T) {
	f := browserFixture(t, BrowserOptions{})
	page := pageServer(t, "kept alive")
	created := f.create(t, testKey, map[string]any{"keepAlive": true})
	id, connectURL := created["id"].(string), created["connectUrl"].(string)
	for range 2 {
		if got := titleThrough(t, connectURL, page, remote.NoModifyURL); got != "kept alive" {
			t.Errorf("title = %q", got)
		}
	}
	if got := statusOf(t, f, id); got != "RUNNING" {
		t.Fatalf("keepAlive session after its clients left: %s, want RUNNING", got)
	}
	ws, err := websocket.Dial(connectURL, "", "http://localhost/")
	if err != nil {
		t.Fatal(redactKey(err.Error(), connectURL))
	}
	if err := websocket.JSON.Send(ws, map[string]any{"id": 1, "method": "Browser.close"}); err != nil {
		t.Fatal(err)
	}
	if !eventually(func() bool { return statusOf(t, f, id) == "COMPLETED" }) {
		t.Fatalf("status after Browser.close = %s, want COMPLETED", statusOf(t, f, id))
	}
	_ = ws.Close()
}

// seleniumRemoteUrl reaches a chromedriver attached to the session's browser, with the signing
// key in x-bb-signing-key.
func TestConnectSelenium(t *testing.T) {
	f := browserFixture(t, BrowserOptions{})
	if FindChromedriver() == "" {
		t.Skip("SKIP: no chromedriver installed (apt-get install chromium-driver): Selenium is not tested")
	}
	page := pageServer(t, "Selenium page")
	created := f.create(t, testKey, map[string]any{"keepAlive": true})
	remote, key := created["seleniumRemoteUrl"].(string), created["signingKey"].(string)
	call := func(method, path string, body any, withKey bool) (int, map[string]any) {
		t.Helper()
		var r io.Reader
		if body != nil {
			data, _ := json.Marshal(body)
			r = bytes.NewReader(data)
		}
		req, _ := http.NewRequest(method, remote+path, r)
		req.Header.Set("Content-Type", "application/json")
		if withKey {
			req.Header.Set("x-bb-signing-key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := call(http.MethodPost, "/session", map[string]any{}, false); code != http.StatusUnauthorized {
		t.Errorf("new session without the signing key: %d, want 401", code)
	}
	code, out := call(http.MethodPost, "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{"browserName": "chrome"}}}, true)
	if code != http.StatusOK {
		t.Fatalf("new session: %d %v", code, out)
	}
	sessionID, _ := out["value"].(map[string]any)["sessionId"].(string)
	if code, out := call(http.MethodPost, "/session/"+sessionID+"/url", map[string]any{"url": page}, true); code != http.StatusOK {
		t.Fatalf("navigate: %d %v", code, out)
	}
	code, out = call(http.MethodGet, "/session/"+sessionID+"/title", nil, true)
	if code != http.StatusOK || out["value"] != "Selenium page" {
		t.Errorf("title: %d %v", code, out)
	}
	call(http.MethodDelete, "/session/"+sessionID, nil, true)
	if got := statusOf(t, f, created["id"].(string)); got != "RUNNING" {
		t.Errorf("status after the WebDriver session ended = %s, want RUNNING (the browser stays)", got)
	}
}

// upgradeStatus asks the front door to upgrade connectURL to a websocket and returns the status
// of its answer (101 when it did).
func upgradeStatus(t *testing.T, connectURL string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, strings.Replace(connectURL, "ws://", "http://", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upgrade: %v", redactKey(err.Error(), connectURL))
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// closeBrowser does what Puppeteer's browser.close() does on a connected browser: it sends
// Browser.close and waits for the answer. The connection stays open; close it with the returned
// function.
func closeBrowser(t *testing.T, connectURL string) (disconnect func()) {
	t.Helper()
	ws, err := websocket.Dial(connectURL, "", "http://localhost/")
	if err != nil {
		t.Fatalf("CDP client: %v", redactKey(err.Error(), connectURL))
	}
	if err := websocket.JSON.Send(ws, map[string]any{"id": 1, "method": "Browser.close"}); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var msg map[string]any
		if err := websocket.JSON.Receive(ws, &msg); err != nil {
			t.Fatalf("waiting for the answer to Browser.close: %v", err)
		}
		if msg["id"] == float64(1) {
			return func() { _ = ws.Close() }
		}
	}
}

// A websocket upgrade that fails (the browser does not answer: 502) is no client disconnect, so
// it does not end a session without keepAlive; a client that did connect and leaves still does.
func TestFailedUpgradeDoesNotEndTheSession(t *testing.T) {
	f := newFixture(t, Project{}, false)
	created := f.create(t, testKey, map[string]any{})
	id := created["id"].(string)
	connectURL := "ws://" + strings.TrimPrefix(f.srv.URL, "http://") + "/?signingKey=" + created["signingKey"].(string)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().String()
	_ = ln.Close()
	silent, _ := standInBrowser(t, closedPort)
	setBrowser(f, id, silent)
	if code := upgradeStatus(t, connectURL); code != http.StatusBadGateway {
		t.Fatalf("upgrade to a browser that does not answer: %d, want 502", code)
	}
	if got := statusOf(t, f, id); got != "RUNNING" {
		t.Fatalf("status after a failed upgrade = %s, want RUNNING", got)
	}

	cdp := httptest.NewServer(websocket.Server{Handler: func(ws *websocket.Conn) { _, _ = io.Copy(ws, ws) }})
	t.Cleanup(cdp.Close)
	answering, _ := standInBrowser(t, strings.TrimPrefix(cdp.URL, "http://"))
	setBrowser(f, id, answering)
	ws, err := websocket.Dial(connectURL, "", "http://localhost/")
	if err != nil {
		t.Fatalf("connect: %v", redactKey(err.Error(), connectURL))
	}
	if got := statusOf(t, f, id); got != "RUNNING" {
		t.Fatalf("status with a client connected = %s, want RUNNING", got)
	}
	_ = ws.Close()
	if !eventually(func() bool { return statusOf(t, f, id) == "COMPLETED" }) {
		t.Fatalf("status after the client left = %s, want COMPLETED", statusOf(t, f, id))
	}
}

// A signing key finds its own session only: a near miss is refused (401) like an unknown key,
// and Reset forgets every key.
func TestSigningKeys(t *testing.T) {
	f := newFixture(t, Project{}, false)
	var ids, keys []string
	for range 3 {
		created := f.create(t, testKey, map[string]any{})
		ids, keys = append(ids, created["id"].(string)), append(keys, created["signingKey"].(string))
	}
	lookup := func(key string) *Session {
		f.emu.mu.Lock()
		defer f.emu.mu.Unlock()
		return f.emu.sessionBySigningKey(key)
	}
	version := func(key string) int {
		resp, err := http.Get(f.srv.URL + "/json/version?signingKey=" + url.QueryEscape(key))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for i, key := range keys {
		if got := lookup(key); got == nil || got.ID != ids[i] {
			t.Errorf("session %d: its signing key finds %v", i, got)
		}
		if code := version(key); code != http.StatusNotImplemented {
			t.Errorf("session %d: /json/version with its key: %d, want 501 (no browser)", i, code)
		}
	}
	key := keys[0]
	flipped := []byte(key)
	flipped[len(flipped)-1] ^= 1
	for name, bad := range map[string]string{
		"empty":                 "",
		"one character changed": string(flipped),
		"a prefix":              key[:len(key)-1],
		"longer":                key + "0",
		"upper case":            strings.ToUpper(key),
	} {
		if got := lookup(bad); got != nil {
			t.Errorf("%s: finds session %s", name, got.ID)
		}
		if code := version(bad); code != http.StatusUnauthorized {
			t.Errorf("%s: /json/version: %d, want 401", name, code)
		}
	}
	f.emu.Reset()
	if got := lookup(key); got != nil {
		t.Errorf("after Reset: finds session %s", got.ID)
	}
	if code := version(key); code != http.StatusUnauthorized {
		t.Errorf("after Reset: /json/version: %d, want 401", code)
	}
}

// Once Browser.close is answered (Puppeteer's browser.close() has resolved), the session has
// ended: a reconnect at once is answered 410, never upgraded to the dying browser nor 502.
func TestReconnectAfterBrowserCloseIsGone(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keepAlive %t", keepAlive), func(t *testing.T) {
			f := browserFixture(t, BrowserOptions{})
			created := f.create(t, testKey, map[string]any{"keepAlive": keepAlive})
			id, connectURL := created["id"].(string), created["connectUrl"].(string)
			disconnect := closeBrowser(t, connectURL)
			defer disconnect()
			if code := upgradeStatus(t, connectURL); code != http.StatusGone {
				t.Errorf("reconnect right after Browser.close was answered: %d, want 410", code)
			}
			if got := statusOf(t, f, id); got != "COMPLETED" {
				t.Errorf("status right after Browser.close was answered = %s, want COMPLETED", got)
			}
			if !eventually(func() bool { return len(f.emu.BrowserPIDs()) == 0 }) {
				t.Errorf("the closed browser still runs: %v", f.emu.BrowserPIDs())
			}
		})
	}
}
