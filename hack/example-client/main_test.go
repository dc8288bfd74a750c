package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
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
