package browserbase

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestSensitiveFormatting(t *testing.T) {
	s := Sensitive(testSigningKey)
	for _, verb := range append(formatVerbs, "%d", "%10.3s", "%-20v") {
		got := fmt.Sprintf(verb, s)
		assertNoSecrets(t, "Sprintf("+verb+")", got)
		if !strings.Contains(got, "[redacted]") {
			t.Errorf("Sprintf(%q, Sensitive) = %q, want [redacted]", verb, got)
		}
	}
	if got := fmt.Sprint(s) + s.String() + s.GoString(); strings.Contains(got, testSigningKey) {
		t.Errorf("Sprint/String/GoString leak the value: %s", got)
	}
	if s.Reveal() != testSigningKey {
		t.Errorf("Reveal() = %q, want the value", s.Reveal())
	}
	// On the wire the value is sent as is: JSON is how it reaches Browserbase.
	b, err := json.Marshal(struct{ P Sensitive }{s})
	if err != nil || string(b) != `{"P":"`+testSigningKey+`"}` {
		t.Errorf("json.Marshal() = %s, %v; want the value in clear", b, err)
	}
}

func TestSessionFormattingRedactsCredentials(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusCreated, body: sessionJSON})
	sess, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
	if err != nil {
		t.Fatalf("CreateSession() error: %v", err)
	}
	// The decoded session does hold the credentials, so the checks below mean something.
	if sess.SigningKey.Reveal() != testSigningKey || !strings.Contains(sess.ConnectURL.Reveal(), "signingKey=") {
		t.Fatalf("session does not hold the credentials: %q %q", sess.SigningKey.Reveal(), sess.ConnectURL.Reveal())
	}
	for _, verb := range formatVerbs {
		for name, v := range map[string]any{"Session": *sess, "*Session": sess, "[]Session": []Session{*sess}} {
			got := fmt.Sprintf(verb, v)
			assertNoSecrets(t, fmt.Sprintf("Sprintf(%s, %s)", verb, name), got)
			if verb == "%v" || verb == "%+v" || verb == "%#v" {
				if !strings.Contains(got, "[redacted]") {
					t.Errorf("Sprintf(%s, %s) = %s, want [redacted] in place of the credentials", verb, name, got)
				}
				if !strings.Contains(got, testSessionID) {
					t.Errorf("Sprintf(%s, %s) = %s, want the session id", verb, name, got)
				}
			}
		}
	}
}

func TestCreateRequestFormattingRedactsProxyPassword(t *testing.T) {
	req := CreateSessionRequest{Proxies: []Proxy{{Type: "external", Server: "http://p:1", Username: "u", Password: "proxy-secret-pw"}}}
	for _, verb := range formatVerbs {
		assertNoSecrets(t, "Sprintf("+verb+", CreateSessionRequest)", fmt.Sprintf(verb, req))
		assertNoSecrets(t, "Sprintf("+verb+", *CreateSessionRequest)", fmt.Sprintf(verb, &req))
	}
}

func TestSessionStatusEnded(t *testing.T) {
	tests := []struct {
		status SessionStatus
		want   bool
	}{
		{StatusPending, false},
		{StatusRunning, false},
		{StatusError, true},
		{StatusTimedOut, true},
		{StatusCompleted, true},
		{"HIBERNATING", false},
		{"", false},
		{"completed", false},
	}
	for _, tt := range tests {
		if got := tt.status.Ended(); got != tt.want {
			t.Errorf("SessionStatus(%q).Ended() = %t, want %t", tt.status, got, tt.want)
		}
	}
}
