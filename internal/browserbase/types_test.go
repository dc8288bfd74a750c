package browserbase

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// logMarshaler is logr.Marshaler, which structured loggers (zapr, funcr) call before encoding.
type logMarshaler interface{ MarshalLog() any }

var (
	_ logMarshaler = Sensitive("")
	_ logMarshaler = Session{}
	_ logMarshaler = CreateSessionRequest{}
	_ logMarshaler = Proxy{}
)

// TestLoggingRedactsCredentials logs every type that holds a credential through the manager's
// JSON logger, by value and by pointer, which encodes by reflection and so ignores the fmt
// methods that hide a Sensitive value.
func TestLoggingRedactsCredentials(t *testing.T) {
	c := newTestClient(t, &recorder{status: http.StatusCreated, body: sessionJSON})
	sess, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
	if err != nil {
		t.Fatalf("CreateSession() error: %v", err)
	}
	proxy := Proxy{Type: "external", Server: "http://proxyuser:server-secret-pw@proxy.example.com:3128", Username: "u", Password: "proxy-secret-pw"}
	req := CreateSessionRequest{Region: "us-east-1", Proxies: []Proxy{proxy, {Type: "browserbase", Geolocation: &ProxyGeolocation{Country: "US"}}}}
	key := testAPIKey

	tests := []struct {
		name  string
		value any
		// want are parts of the value that are no credential and must still be shown.
		want []string
	}{
		{name: "Session", value: *sess, want: []string{testSessionID, `"connectUrl":"wss://connect.usw2.browserbase.com/"`, `"signingKey":"[redacted]"`}},
		{name: "*Session", value: sess, want: []string{testSessionID, `"signingKey":"[redacted]"`}},
		{name: "CreateSessionRequest", value: req, want: []string{"us-east-1", "proxy.example.com:3128", `"password":"[redacted]"`, `"country":"US"`}},
		{name: "*CreateSessionRequest", value: &req, want: []string{"us-east-1", `"password":"[redacted]"`}},
		{name: "Proxy", value: proxy, want: []string{`"server":"http://proxy.example.com:3128"`, `"password":"[redacted]"`}},
		{name: "*Proxy", value: &proxy, want: []string{"proxy.example.com:3128", `"password":"[redacted]"`}},
		{name: "Sensitive", value: key, want: []string{`"value":"[redacted]"`}},
		{name: "*Sensitive", value: &key, want: []string{`"value":"[redacted]"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := logJSON(t, "value", tt.value)
			assertNoSecrets(t, "log line", got)
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("log line lacks %s:\n%s", want, got)
				}
			}
		})
	}

	// Logging changes nothing: the request still sends the passwords, the session still holds
	// its credentials.
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"proxy-secret-pw", "server-secret-pw"} {
		if !strings.Contains(string(body), secret) {
			t.Errorf("request JSON after logging lacks %q: %s", secret, body)
		}
	}
	if sess.SigningKey.Reveal() != testSigningKey || sess.ConnectURL.Reveal() != testConnectURL {
		t.Errorf("session after logging holds %q, %q; want the credentials", sess.SigningKey.Reveal(), sess.ConnectURL.Reveal())
	}
}

func TestLoggingANilSessionLeaksNothing(t *testing.T) {
	var sess *Session
	got := logJSON(t, "session", sess)
	assertNoSecrets(t, "log line", got)
	if !strings.Contains(got, `"logged"`) {
		t.Errorf("log line = %s, want the message", got)
	}
}

// TestSessionMarshalLogKeepsWhatIsNoCredential checks the log view is the session less its
// credentials, field for field.
func TestSessionMarshalLogKeepsWhatIsNoCredential(t *testing.T) {
	want := wantSession()
	want.ConnectURL = "wss://connect.usw2.browserbase.com/"
	want.SigningKey = "[redacted]"
	var got Session
	b, err := json.Marshal(wantSession().MarshalLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, &got); d != "" {
		t.Errorf("MarshalLog() mismatch (-want +got):\n%s", d)
	}

	// Absent credentials stay absent rather than showing as "[redacted]".
	b, err = json.Marshal(Session{ID: "x"}.MarshalLog())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "signingKey") || strings.Contains(string(b), "connectUrl") {
		t.Errorf("MarshalLog() of a session without credentials = %s, want neither signingKey nor connectUrl", b)
	}
}
