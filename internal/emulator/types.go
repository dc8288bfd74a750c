package emulator

import "time"

// Project is a Browserbase project and its limits.
type Project struct {
	ID string
	// Name is the project's display name; AddKey makes it the ID when empty.
	Name string
	// OwnerID is the owning organization as GET /v1/projects shows it; AddKey makes it
	// "emulator-owner" when empty.
	OwnerID string
	// CreatedAt is the project's creation time; AddKey makes it the current time when zero.
	CreatedAt time.Time
	// Concurrency is the most sessions that may be PENDING or RUNNING at once (0: unlimited).
	Concurrency int
	// CreatesPerMinute is the most sessions created in any rolling 60 s (0: unlimited).
	CreatesPerMinute int
	// DefaultTimeout is the session timeout in seconds when a create does not give one.
	DefaultTimeout int
	// Regions, when set, are the only regions the project may create sessions in (a plan or
	// organisation restriction); others are answered 400.
	Regions []string
}

// Session is the emulator's record of a session, as reported by Sessions.
type Session struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	StartedAt  time.Time  `json:"startedAt"`
	ExpiresAt  time.Time  `json:"expiresAt"`
	EndedAt    *time.Time `json:"endedAt,omitempty"`
	ProjectID  string     `json:"projectId"`
	Status     string     `json:"status"`
	ProxyBytes int64      `json:"proxyBytes"`
	KeepAlive  bool       `json:"keepAlive"`
	Region     string     `json:"region"`
	ContextID  string     `json:"contextId,omitempty"`
	// PersistsContext says that the session saves its state into ContextID when it ends.
	PersistsContext bool `json:"-"`
	// SharedContext says that another live session was persisting into the same context when
	// this one was created: Browserbase does not say what then happens to the saved state, so
	// tests check that the operator never lets it come to that.
	SharedContext     bool           `json:"-"`
	UserMetadata      map[string]any `json:"userMetadata,omitempty"`
	ConnectURL        string         `json:"connectUrl,omitempty"`
	SeleniumRemoteURL string         `json:"seleniumRemoteUrl,omitempty"`
	SigningKey        string         `json:"signingKey,omitempty"`
	// CreateBody is the create request as received, for assertions.
	CreateBody map[string]any `json:"-"`
	// AnswerLost says that the create answer carrying this session's connect details never
	// reached the caller (a CreateCommitThenFail or CreateCommitThenDrop fault), for assertions.
	AnswerLost bool `json:"-"`
}

// sessionExtra is what the emulator keeps about a session beyond what the API shows.
type sessionExtra struct {
	// runningAt is when a PENDING session becomes RUNNING; zero once it has, or when a status was
	// forced.
	runningAt time.Time
	// pageID is the CDP target id of the session's one page, for the debug URLs.
	pageID string
}
