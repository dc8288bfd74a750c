package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

// The connect front door: what a session's connectUrl (ws://<emulator>/?signingKey=<key>) and
// seleniumRemoteUrl (http://<emulator>/webdriver) lead to when the browser backend is on. It
// checks the signing key, serves /json/version pointing back at itself (Playwright, Puppeteer
// and chromedp ask for it when given an http URL), and proxies the CDP websocket to the
// session's own Chromium, rewriting Host and path and dropping Origin, which Chromium refuses.
// Selenium calls carry the key in the x-bb-signing-key header, as Browserbase's examples send
// it, and reach a chromedriver attached to the same browser. An ended session's URL is answered
// 410 Gone, an unknown key 401.

// isConnectPath says whether a path belongs to the front door rather than the API.
func isConnectPath(p string) bool {
	return p == "/" || p == "/json/version" || p == "/json/version/" || p == "/webdriver" || strings.HasPrefix(p, "/webdriver/")
}

// connectError answers in the API's error shape.
func connectError(w http.ResponseWriter, code int, message string) { writeError(w, code, message) }

// connectTarget finds the live session of a signing key and its started browser, or answers.
func (s *Server) connectTarget(w http.ResponseWriter, r *http.Request, key string) (*Session, *browser) {
	if key == "" {
		connectError(w, http.StatusUnauthorized, "Missing signing key")
		return nil, nil
	}
	s.mu.Lock()
	s.settle()
	sess := s.sessionBySigningKey(key)
	if sess == nil {
		s.mu.Unlock()
		connectError(w, http.StatusUnauthorized, "Invalid signing key")
		return nil, nil
	}
	s.refresh(sess)
	status, id := sess.Status, sess.ID
	b := s.browsers[id]
	s.mu.Unlock()
	if ended(status) {
		connectError(w, http.StatusGone, fmt.Sprintf("Session %s has ended (%s); create a new one", id, status))
		return nil, nil
	}
	if b == nil {
		connectError(w, http.StatusNotImplemented, fmt.Sprintf("Session %s has no browser: the emulator runs without one (--browser=off, or no Chromium installed)", id))
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	if err := b.waitReady(ctx); err != nil {
		connectError(w, http.StatusServiceUnavailable, fmt.Sprintf("Session %s: the browser is not available: %v", id, err))
		return nil, nil
	}
	return sess, b
}

// sessionBySigningKey finds the session of a signing key, or nil. The index is keyed by the
// key's SHA-256, so the time a lookup takes tells nothing about the keys stored, and the key
// itself is compared in constant time. Callers hold s.mu.
func (s *Server) sessionBySigningKey(key string) *Session {
	sess := s.signingKeys[sha256.Sum256([]byte(key))]
	if sess == nil || subtle.ConstantTimeCompare([]byte(sess.SigningKey), []byte(key)) != 1 {
		return nil
	}
	return sess
}

func (s *Server) serveConnect(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/webdriver") {
		s.serveWebDriver(w, r)
		return
	}
	key := r.URL.Query().Get("signingKey")
	sess, b := s.connectTarget(w, r, key)
	if sess == nil {
		return
	}
	if r.URL.Path != "/" {
		s.serveVersion(w, r, b, key)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Upgrade", "websocket")
		connectError(w, http.StatusUpgradeRequired, "Connect with a websocket (CDP) client, or GET /json/version")
		return
	}
	s.mu.Lock()
	if ended(s.refresh(sess).Status) || s.browsers[sess.ID] != b {
		s.mu.Unlock()
		connectError(w, http.StatusGone, fmt.Sprintf("Session %s has ended", sess.ID))
		return
	}
	b.clients++
	s.mu.Unlock()

	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", b.addr
			pr.Out.URL.Path, pr.Out.URL.RawPath = strings.TrimPrefix(b.wsURL, "ws://"+b.addr), ""
			pr.Out.URL.RawQuery = "" // the signing key stays here
			pr.Out.Host = b.addr
			pr.Out.Header.Del("Origin")
			// Uncompressed frames, so that the front door can see Browser.close (cdp_watch.go).
			pr.Out.Header.Del("Sec-WebSocket-Extensions")
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			connectError(w, http.StatusBadGateway, "The session's browser did not answer")
		},
	}
	watcher := &upgradeWatcher{ResponseWriter: w, onBrowserClose: func() { s.browserClosing(sess.ID, b) }}
	proxy.ServeHTTP(watcher, r) // returns when the websocket closes, or the upgrade failed

	s.mu.Lock()
	defer s.mu.Unlock()
	b.clients--
	if watcher.upgraded {
		b.upgraded = true
	}
	// Without keepAlive, a session ends when its last client disconnects, as Browserbase's does.
	// An upgrade that failed (502) is no disconnect: it ends nothing unless a client that did
	// connect left while it was under way.
	if b.clients == 0 && b.upgraded && !sess.KeepAlive && !ended(s.refresh(sess).Status) {
		s.setStatus(sess, "COMPLETED")
	}
}

// browserClosing ends the session of a browser that a client is closing (CDP Browser.close), at
// once, before the browser gets the command. The browser is given a few seconds to answer it and
// exit by itself, and is killed after that.
func (s *Server) browserClosing(sessionID string, b *browser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.browsers[sessionID] != b {
		return // the session has ended already
	}
	delete(s.browsers, sessionID)
	s.retire(b, browserCloseGrace)
	if sess := s.sessions[sessionID]; sess != nil && !ended(s.refresh(sess).Status) {
		s.setStatus(sess, "COMPLETED") // Puppeteer's browser.close() ends the session
	}
}

// browserCloseGrace is how long a browser that was sent Browser.close may take to exit.
const browserCloseGrace = 5 * time.Second

// serveVersion answers /json/version with the browser's own answer, its webSocketDebuggerUrl
// pointing back at the front door.
func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request, b *browser, key string) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.addr+"/json/version", nil)
	if err != nil {
		connectError(w, http.StatusInternalServerError, err.Error())
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		connectError(w, http.StatusBadGateway, "The session's browser did not answer")
		return
	}
	defer func() { _ = resp.Body.Close() }()
	var version map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&version); err != nil {
		connectError(w, http.StatusBadGateway, "The session's browser answered /json/version with no JSON")
		return
	}
	version["webSocketDebuggerUrl"] = "ws://" + r.Host + "/?signingKey=" + key
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(version)
}

// serveWebDriver proxies Selenium's WebDriver calls to a chromedriver attached to the session's
// browser, started at the first call. The new-session body is rewritten to attach
// (goog:chromeOptions.debuggerAddress) instead of launching a browser.
func (s *Server) serveWebDriver(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("x-bb-signing-key")
	sess, b := s.connectTarget(w, r, key)
	if sess == nil {
		return
	}
	s.mu.Lock()
	bin, timeout := "", 30*time.Second
	if o := s.browserOpts; o != nil {
		bin, timeout = o.Chromedriver, o.StartTimeout
	}
	s.mu.Unlock()
	if bin == "" {
		connectError(w, http.StatusNotImplemented, "Selenium needs chromedriver: install chromium-driver (Debian, Ubuntu)")
		return
	}
	b.driverMu.Lock()
	if b.driver == nil {
		if b.driverClosed {
			b.driverMu.Unlock()
			connectError(w, http.StatusGone, fmt.Sprintf("Session %s has ended", sess.ID))
			return
		}
		d, err := startChromedriver(bin, timeout)
		if err != nil {
			b.driverMu.Unlock()
			connectError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		b.driver = d
	}
	driver := b.driver
	b.driverMu.Unlock()

	path := strings.TrimPrefix(r.URL.Path, "/webdriver")
	if path == "" {
		path = "/"
	}
	var body []byte
	if r.Method == http.MethodPost && strings.TrimSuffix(path, "/") == "/session" {
		var err error
		if body, err = attachCapabilities(r.Body, b.addr); err != nil {
			connectError(w, http.StatusBadRequest, "new session body: "+err.Error())
			return
		}
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", driver.addr
			pr.Out.URL.Path, pr.Out.URL.RawPath = path, ""
			pr.Out.Host = driver.addr
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del("x-bb-signing-key")
			if body != nil {
				pr.Out.Body = io.NopCloser(bytes.NewReader(body))
				pr.Out.ContentLength = int64(len(body))
				pr.Out.Header.Set("Content-Length", fmt.Sprint(len(body)))
			}
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			connectError(w, http.StatusBadGateway, "chromedriver did not answer")
		},
	}
	proxy.ServeHTTP(w, r)
}

// attachCapabilities rewrites a W3C new-session body so that chromedriver attaches to the
// browser at debuggerAddress: alwaysMatch keeps the client's capabilities but its
// goog:chromeOptions, and firstMatch is dropped.
func attachCapabilities(body io.Reader, debuggerAddress string) ([]byte, error) {
	var req map[string]any
	if err := json.NewDecoder(io.LimitReader(body, maxBody)).Decode(&req); err != nil && err != io.EOF {
		return nil, err
	}
	if req == nil {
		req = map[string]any{}
	}
	caps, _ := req["capabilities"].(map[string]any)
	if caps == nil {
		caps = map[string]any{}
	}
	always, _ := caps["alwaysMatch"].(map[string]any)
	if always == nil {
		always = map[string]any{}
	}
	always["goog:chromeOptions"] = map[string]any{"debuggerAddress": debuggerAddress}
	if name, ok := always["browserName"].(string); ok && name != "chrome" {
		delete(always, "browserName")
	}
	caps["alwaysMatch"] = always
	delete(caps, "firstMatch")
	req["capabilities"] = caps
	delete(req, "desiredCapabilities")
	return json.Marshal(req)
}
