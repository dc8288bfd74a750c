package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/browserbase/session-operator/internal/emulator"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		in      string
		wantKey string
		want    emulator.Project
		wantErr string // a substring of the error; "" for none
	}{
		{in: "bb_key=proj", wantKey: "bb_key", want: emulator.Project{ID: "proj"}},
		{in: " bb_key = proj ", wantKey: "bb_key", want: emulator.Project{ID: "proj"}},
		{in: "k=p,concurrency=3", wantKey: "k", want: emulator.Project{ID: "p", Concurrency: 3}},
		{in: "k=p,per-minute=50", wantKey: "k", want: emulator.Project{ID: "p", CreatesPerMinute: 50}},
		{in: "k=p,default-timeout=900", wantKey: "k", want: emulator.Project{ID: "p", DefaultTimeout: 900}},
		{
			in: "k=p,default-timeout=60,per-minute=0,concurrency=25", wantKey: "k",
			want: emulator.Project{ID: "p", Concurrency: 25, DefaultTimeout: 60},
		},
		{in: "k=p, concurrency=2", wantKey: "k", want: emulator.Project{ID: "p", Concurrency: 2}},
		{in: "k=p,default-timeout=21600", wantKey: "k", want: emulator.Project{ID: "p", DefaultTimeout: 21600}},
		{in: "k=a=b", wantKey: "k", want: emulator.Project{ID: "a=b"}}, // the first = splits
		{in: "", wantErr: "want KEY=PROJECT_ID"},
		{in: "bb_key", wantErr: "want KEY=PROJECT_ID"},
		{in: "=proj", wantErr: "want KEY=PROJECT_ID"},
		{in: "k=", wantErr: "want KEY=PROJECT_ID"},
		{in: "k=,concurrency=1", wantErr: "want KEY=PROJECT_ID"},
		{in: "k=p,concurrency", wantErr: "not name=value"},
		{in: "k=p,", wantErr: "not name=value"},
		{in: "k=p,concurrency=-1", wantErr: "non-negative integer"},
		{in: "k=p,concurrency=many", wantErr: "non-negative integer"},
		{in: "k=p,per-minute=1.5", wantErr: "non-negative integer"},
		{in: "k=p,default-timeout=59", wantErr: "outside 60..21600"},
		{in: "k=p,default-timeout=21601", wantErr: "outside 60..21600"},
		{in: "k=p,concurrency=1,concurrency=2", wantErr: "given twice"},
		{in: "k=p,region=us-east-1", wantErr: "unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			key, p, err := parseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseKey(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseKey(%q): %v", tt.in, err)
			}
			if key != tt.wantKey {
				t.Errorf("key = %q, want %q", key, tt.wantKey)
			}
			if d := cmp.Diff(tt.want, p); d != "" {
				t.Errorf("project mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestKeyFlagsRefuseADuplicateKey(t *testing.T) {
	var keys keyFlags
	if err := keys.Set("k=p1"); err != nil {
		t.Fatal(err)
	}
	if err := keys.Set("k2=p1,concurrency=1"); err != nil {
		t.Errorf("a second key of the same project: %v", err)
	}
	if err := keys.Set("k=p2"); err == nil {
		t.Error("Set of a key given before succeeded, want an error")
	}
	if len(keys) != 2 {
		t.Errorf("%d keys, want 2", len(keys))
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--error-rate", "2"},
		{"--create-commit-then-fail", "-1"},
		{"--latency", "-1s"},
		{"--commit-late", "-1s"},
		{"--list-lag", "-1s"},
		{"--browser", "on"},
		{"--max-browsers", "0"},
		{"--browser", "required", "--chromium", "/nonexistent/chromium"},
		{"--pending-for", "-1s"},
		{"--concurrency-retry-after", "-1s"},
		{"--key", "nokey"},
		{"--key", "k=p", "--key", "k=q"},
		{"--no-such-flag"},
		{"extra-argument"},
		{"--listen", "not-an-address"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) wrote %q to stdout, want nothing", args, stdout.String())
		}
	}
	err := run(context.Background(), []string{"--help"}, io.Discard, io.Discard)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run(--help) = %v, want flag.ErrHelp", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRun starts the program on a free port, reads the base URL from its one stdout line, uses
// the API and the admin API, and stops it.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"--listen", "127.0.0.1:0", "--key", "k1=p1,concurrency=1", "--key", "k2=p2",
			"--pending-for", "1h", "--concurrency-retry-after", "0", "--get-returns-connect=false",
			"--list-lag", "1h", "--commit-late", "2m",
		}, stdoutW, &stderr)
		_ = stdoutW.Close()
	}()

	lines := bufio.NewScanner(stdoutR)
	if !lines.Scan() {
		t.Fatalf("no line on stdout; stderr:\n%s", stderr.String())
	}
	baseURL, ok := strings.CutPrefix(lines.Text(), "BROWSERBASE_BASE_URL=http://127.0.0.1:")
	if !ok || baseURL == "0" || baseURL == "" {
		t.Fatalf("stdout line %q, want BROWSERBASE_BASE_URL=http://127.0.0.1:<port>", lines.Text())
	}
	baseURL = "http://127.0.0.1:" + baseURL

	do := func(method, path, key, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, baseURL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("X-BB-API-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, data
	}

	// The flags reached the emulator: sessions start PENDING, concurrency 1 answers 429 without
	// Retry-After, GET hides the connect fields.
	resp, data := do(http.MethodPost, "/v1/sessions", "k1", "{}")
	var created map[string]any
	if err := json.Unmarshal(data, &created); err != nil || resp.StatusCode != http.StatusCreated || created["status"] != "PENDING" {
		t.Fatalf("create: status %d body %s, want 201 PENDING", resp.StatusCode, data)
	}
	resp, data = do(http.MethodPost, "/v1/sessions", "k1", "{}")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "" {
		t.Errorf("second create: status %d Retry-After %q, want 429 and none: %s", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
	resp, data = do(http.MethodGet, "/v1/sessions/"+created["id"].(string), "k1", "")
	if resp.StatusCode != http.StatusOK || strings.Contains(string(data), "connectUrl") {
		t.Errorf("get: status %d body %s, want 200 without connectUrl", resp.StatusCode, data)
	}
	if resp, data := do(http.MethodGet, "/v1/sessions", "k1", ""); resp.StatusCode != http.StatusOK || strings.TrimSpace(string(data)) != "[]" {
		t.Errorf("list within --list-lag: status %d body %s, want 200 []", resp.StatusCode, data)
	}
	if resp, data := do(http.MethodGet, "/admin/faults", "", ""); !strings.Contains(string(data), `"commitLate":"2m0s","listLag":"1h0m0s"`) {
		t.Errorf("admin faults: status %d body %s, want commitLate 2m and listLag 1h", resp.StatusCode, data)
	}
	if resp, data := do(http.MethodGet, "/admin/settings", "", ""); !strings.Contains(string(data), `"getReturnsConnect":false`) {
		t.Errorf("admin settings: status %d body %s, want getReturnsConnect false", resp.StatusCode, data)
	}
	if resp, data := do(http.MethodGet, "/v1/projects", "k2", ""); resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"id":"p2"`) {
		t.Errorf("projects of k2: status %d body %s", resp.StatusCode, data)
	}

	resp, data = do(http.MethodGet, "/admin/sessions", "", "")
	var sessions []emulator.AdminSession
	if err := json.Unmarshal(data, &sessions); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin sessions: status %d body %s", resp.StatusCode, data)
	}
	want := []emulator.AdminSession{{
		Session: emulator.Session{ID: created["id"].(string), ProjectID: "p1", Status: "PENDING", Region: "us-west-2"},
	}}
	opts := cmpopts.IgnoreFields(emulator.Session{}, "CreatedAt", "UpdatedAt", "StartedAt", "ExpiresAt", "ConnectURL", "SeleniumRemoteURL", "SigningKey")
	if d := cmp.Diff(want, sessions, opts, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("admin sessions mismatch (-want +got):\n%s", d)
	}
	if sessions[0].SigningKey == "" {
		t.Error("admin session lacks its signing key")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if lines.Scan() {
		t.Errorf("a second stdout line: %q", lines.Text())
	}
	for _, want := range []string{"Browserbase emulator serving", "shutting down"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
