package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/browserbase/session-operator/internal/emulator"
)

// fakeBrowser is a CDP endpoint that accepts one signing key at a time, as a Browserbase
// session's connect host accepts only that session's key.
type fakeBrowser struct {
	mu  sync.Mutex
	key string
}

func (b *fakeBrowser) accept(key string) { b.mu.Lock(); b.key = key; b.mu.Unlock() }

func (b *fakeBrowser) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(websocket.Server{
		Handshake: func(_ *websocket.Config, r *http.Request) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			if r.URL.Query().Get("signingKey") != b.key {
				return errors.New("wrong signing key")
			}
			return nil
		},
		Handler: func(conn *websocket.Conn) {
			var cmd struct {
				ID     int    `json:"id"`
				Method string `json:"method"`
			}
			if websocket.JSON.Receive(conn, &cmd) != nil || cmd.Method != "Browser.getVersion" {
				return
			}
			_ = websocket.JSON.Send(conn, map[string]any{"id": cmd.ID, "result": map[string]any{"product": "Chrome/131.0.6778.86"}})
		},
	})
	t.Cleanup(srv.Close)
	return srv
}

func connectURLFor(srv *httptest.Server, key string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/?signingKey=" + key
}

func TestConnectsWithTheURLFromEnvFrom(t *testing.T) {
	browser := &fakeBrowser{key: "key-1"}
	srv := browser.server(t)
	t.Setenv("connectUrl", connectURLFor(srv, "key-1"))
	url, err := connectURL("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	version, err := browserVersion(ctx, url)
	if err != nil || version != "Chrome/131.0.6778.86" {
		t.Fatalf("browserVersion = %q, %v", version, err)
	}
}

// A mounted Secret is updated in place when the operator writes a new session's URL; a client
// that re-reads it on each connect follows, while an environment variable keeps the old one.
func TestAMountedSecretFollowsANewSession(t *testing.T) {
	browser := &fakeBrowser{key: "key-1"}
	srv := browser.server(t)
	file := filepath.Join(t.TempDir(), "connectUrl")
	if err := os.WriteFile(file, []byte(connectURLFor(srv, "key-1")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("connectUrl", connectURLFor(srv, "key-1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	connect := func(file string) error {
		url, err := connectURL(file)
		if err != nil {
			return err
		}
		_, err = browserVersion(ctx, url)
		return err
	}
	if err := connect(file); err != nil {
		t.Fatalf("first connect: %v", err)
	}

	browser.accept("key-2")
	if err := os.WriteFile(file, []byte(connectURLFor(srv, "key-2")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := connect(file); err != nil {
		t.Errorf("after the Secret changed, the volume reader failed: %v", err)
	}
	err := connect("")
	if err == nil {
		t.Error("the environment variable still connected with the old session's key")
	} else if strings.Contains(err.Error(), "key-1") {
		t.Errorf("the error %q shows the signing key", err)
	}
}

func TestNoConnectURL(t *testing.T) {
	t.Setenv("connectUrl", "")
	if _, err := connectURL(""); err == nil || !strings.Contains(err.Error(), "envFrom") {
		t.Errorf("connectURL() error = %v, want one that says how to provide the URL", err)
	}
}

// With --url, the client loads a page through a real browser behind the emulator's connectUrl
// and prints its title, as make dev shows.
func TestPageTitleThroughTheEmulatorsBrowser(t *testing.T) {
	if emulator.FindChromium() == "" {
		if os.Getenv("EMULATOR_BROWSER_REQUIRED") != "" {
			t.Fatal("no Chromium installed, and EMULATOR_BROWSER_REQUIRED is set")
		}
		t.Skip("SKIP: no Chromium installed (apt-get install chromium-headless-shell)")
	}
	emu := emulator.New()
	emu.AddKey("k", emulator.Project{ID: "p"})
	if _, err := emu.EnableBrowsers(emulator.BrowserOptions{Mode: emulator.BrowserRequired, ProfileRoot: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	api := httptest.NewServer(emu)
	t.Cleanup(api.Close)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "<html><head><title>A page from a local server</title></head></html>")
	}))
	t.Cleanup(page.Close)

	req, _ := http.NewRequest(http.MethodPost, api.URL+"/v1/sessions", strings.NewReader(`{"keepAlive":true}`))
	req.Header.Set("X-BB-API-Key", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ConnectURL string `json:"connectUrl"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&created)
	_ = resp.Body.Close()
	file := filepath.Join(t.TempDir(), "connectUrl")
	if err := os.WriteFile(file, []byte(created.ConnectURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	title, err := run(file, page.URL, 60*time.Second)
	if err != nil || title != "A page from a local server" {
		t.Fatalf("run --url = %q, %v", title, err)
	}
	version, err := run(file, "", 30*time.Second)
	if err != nil || !strings.Contains(version, "Chrome") {
		t.Errorf("run without --url = %q, %v", version, err)
	}
}
