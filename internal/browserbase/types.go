package browserbase

import (
	"fmt"
	"time"
)

// Sensitive is a credential: an API key, a signing key, a connect URL that embeds one. It prints
// as "[redacted]" through every fmt verb; use Reveal to get the value where it is really needed.
type Sensitive string

// Reveal returns the credential itself.
func (s Sensitive) Reveal() string { return string(s) }

// String hides the value.
func (s Sensitive) String() string { return "[redacted]" }

// GoString hides the value from %#v.
func (s Sensitive) GoString() string { return `"[redacted]"` }

// Format hides the value from every verb, %x and %q included.
func (s Sensitive) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// MarshalLog hides the value from structured loggers (logr.Marshaler), whatever else they would
// use. MarshalJSON is deliberately not defined: JSON is how a credential reaches Browserbase.
func (s Sensitive) MarshalLog() any { return "[redacted]" }

// redacted is what a log shows in place of a credential: "[redacted]" when there is one, and
// nothing when there is none, so that a log still tells a present key from an absent one.
func redacted(s Sensitive) Sensitive {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// SessionStatus is a session's status. The set has grown before (PENDING arrived in 2026), so
// any value must be accepted and passed on verbatim.
type SessionStatus string

// The session statuses Browserbase documents.
const (
	StatusPending   SessionStatus = "PENDING"
	StatusRunning   SessionStatus = "RUNNING"
	StatusError     SessionStatus = "ERROR"
	StatusTimedOut  SessionStatus = "TIMED_OUT"
	StatusCompleted SessionStatus = "COMPLETED"
)

// Ended reports whether the status is one a session never leaves.
func (s SessionStatus) Ended() bool {
	switch s {
	case StatusError, StatusTimedOut, StatusCompleted:
		return true
	default:
		return false
	}
}

// CreateSessionRequest is the body of POST /v1/sessions. Every field is optional; nil and empty
// fields are not sent, so Browserbase's own defaults apply.
type CreateSessionRequest struct {
	ProjectID       string           `json:"projectId,omitempty"`
	ExtensionID     string           `json:"extensionId,omitempty"`
	BrowserSettings *BrowserSettings `json:"browserSettings,omitempty"`
	Timeout         *int32           `json:"timeout,omitempty"`
	KeepAlive       *bool            `json:"keepAlive,omitempty"`
	Proxies         []Proxy          `json:"proxies,omitempty"`
	Region          string           `json:"region,omitempty"`
	UserMetadata    map[string]any   `json:"userMetadata,omitempty"`
}

// BrowserSettings is the browserSettings object of a create request.
type BrowserSettings struct {
	Context                 *BrowserContext `json:"context,omitempty"`
	Viewport                *Viewport       `json:"viewport,omitempty"`
	BlockAds                *bool           `json:"blockAds,omitempty"`
	SolveCaptchas           *bool           `json:"solveCaptchas,omitempty"`
	RecordSession           *bool           `json:"recordSession,omitempty"`
	LogSession              *bool           `json:"logSession,omitempty"`
	AdvancedStealth         *bool           `json:"advancedStealth,omitempty"`
	OS                      string          `json:"os,omitempty"`
	AllowedDomains          []string        `json:"allowedDomains,omitempty"`
	IgnoreCertificateErrors *bool           `json:"ignoreCertificateErrors,omitempty"`
}

// BrowserContext selects a persisted context.
type BrowserContext struct {
	ID      string `json:"id"`
	Persist *bool  `json:"persist,omitempty"`
}

// Viewport is a window size in pixels.
type Viewport struct {
	Width  *int32 `json:"width,omitempty"`
	Height *int32 `json:"height,omitempty"`
}

// MarshalLog implements logr.Marshaler. A structured logger encodes what it is given by
// reflection (zap's JSON encoder with encoding/json), which writes a Sensitive field in clear;
// it gets this copy instead, whose proxy passwords are hidden. The request itself is unchanged:
// its JSON, sent to Browserbase, still carries them.
func (r CreateSessionRequest) MarshalLog() any {
	type createSessionRequest CreateSessionRequest // without methods: encoded field by field
	v := createSessionRequest(r)
	if r.Proxies != nil {
		v.Proxies = make([]Proxy, len(r.Proxies))
		for i, p := range r.Proxies {
			v.Proxies[i] = p.redacted()
		}
	}
	return v
}

// Proxy is one entry of the proxies array. Password is a credential, and so is any user
// information in Server.
type Proxy struct {
	Type          string            `json:"type"`
	Geolocation   *ProxyGeolocation `json:"geolocation,omitempty"`
	Server        string            `json:"server,omitempty"`
	Username      string            `json:"username,omitempty"`
	Password      Sensitive         `json:"password,omitempty"`
	DomainPattern string            `json:"domainPattern,omitempty"`
}

// MarshalLog implements logr.Marshaler: a structured logger gets a copy without the password
// and without any user information in Server.
func (p Proxy) MarshalLog() any {
	type proxy Proxy // without methods: encoded field by field
	return proxy(p.redacted())
}

func (p Proxy) redacted() Proxy {
	p.Password = redacted(p.Password)
	p.Server = redactUserinfo(p.Server)
	return p
}

// ProxyGeolocation is where a Browserbase proxy exits.
type ProxyGeolocation struct {
	Country string `json:"country"`
	State   string `json:"state,omitempty"`
	City    string `json:"city,omitempty"`
}

// Session is a Browserbase session. ConnectURL, SeleniumRemoteURL and SigningKey are returned by
// create, and only optionally by get; list never returns them.
type Session struct {
	ID           string         `json:"id"`
	CreatedAt    time.Time      `json:"createdAt"`
	UpdatedAt    time.Time      `json:"updatedAt"`
	StartedAt    time.Time      `json:"startedAt"`
	ExpiresAt    time.Time      `json:"expiresAt"`
	EndedAt      *time.Time     `json:"endedAt,omitempty"`
	ProjectID    string         `json:"projectId"`
	Status       SessionStatus  `json:"status"`
	ProxyBytes   int64          `json:"proxyBytes"`
	KeepAlive    bool           `json:"keepAlive"`
	Region       string         `json:"region"`
	ContextID    string         `json:"contextId,omitempty"`
	UserMetadata map[string]any `json:"userMetadata,omitempty"`

	ConnectURL        Sensitive `json:"connectUrl,omitempty"`
	SeleniumRemoteURL string    `json:"seleniumRemoteUrl,omitempty"`
	SigningKey        Sensitive `json:"signingKey,omitempty"`
}

// MarshalLog implements logr.Marshaler. A structured logger encodes what it is given by
// reflection (zap's JSON encoder with encoding/json), which writes a Sensitive field in clear;
// it gets this copy instead, in which the connect URL is cut to its host and path (RedactURL)
// and the signing key is hidden. Decoding and the fmt verbs are not concerned.
//
// A logger calls MarshalLog on the value it is given, not on what that value holds: log a
// session, or a pointer to one, never a []Session or a struct with a Session in it.
func (s Session) MarshalLog() any {
	type session Session // without methods: encoded field by field
	v := session(s)
	v.ConnectURL = Sensitive(RedactURL(s.ConnectURL))
	v.SeleniumRemoteURL = RedactURL(Sensitive(s.SeleniumRemoteURL))
	v.SigningKey = redacted(s.SigningKey)
	return v
}

// ListOptions filters GET /v1/sessions.
type ListOptions struct {
	// Status keeps only sessions in this status.
	Status SessionStatus
	// Query is a user-metadata query, for example user_metadata['k8s']['uid']:'1234'. See
	// MetadataQuery.
	Query string
}
