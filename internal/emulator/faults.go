package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Faults change how the emulator answers, to test how clients cope.
type Faults struct {
	// Latency is added before every API answer.
	Latency time.Duration
	// ErrorRate is the share (0..1) of API calls answered 500 without doing anything.
	ErrorRate float64
	// CreateCommitThenFail is how many of the next creates commit the session and then answer 500.
	CreateCommitThenFail int
	// CreateCommitThenDrop is how many of the next creates commit the session and then close the
	// connection without an answer.
	CreateCommitThenDrop int
	// CommitLate delays the commit of a create whose answer a fault above lost (500 or dropped):
	// the session is stored CommitLate after the answer was lost, as a create that Browserbase
	// finishes behind a timed-out load balancer would be, and appears only then. 0 commits it
	// before the answer.
	CommitLate time.Duration
	// ListLag hides a new session from GET /v1/sessions (list, with or without filters) until
	// ListLag after its creation, as an eventually consistent index would. Get by id sees it at once.
	ListLag time.Duration
}

// faultsJSON is the wire shape of Faults.
type faultsJSON struct {
	Latency              string  `json:"latency"`
	ErrorRate            float64 `json:"errorRate"`
	CreateCommitThenFail int     `json:"createCommitThenFail"`
	CreateCommitThenDrop int     `json:"createCommitThenDrop"`
	CommitLate           string  `json:"commitLate"`
	ListLag              string  `json:"listLag"`
}

// MarshalJSON encodes the faults as
// {"latency":"250ms","errorRate":0.1,"createCommitThenFail":1,"createCommitThenDrop":0}.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Latency:              f.Latency.String(),
		ErrorRate:            f.ErrorRate,
		CreateCommitThenFail: f.CreateCommitThenFail,
		CreateCommitThenDrop: f.CreateCommitThenDrop,
		CommitLate:           f.CommitLate.String(),
		ListLag:              f.ListLag.String(),
	})
}

// UnmarshalJSON decodes the shape MarshalJSON writes; latency is a Go duration string. Missing
// fields are zero. Unknown fields and values Validate refuses are errors.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var raw faultsJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	var durations [3]time.Duration
	for i, d := range []struct{ name, value string }{{"latency", raw.Latency}, {"commitLate", raw.CommitLate}, {"listLag", raw.ListLag}} {
		if d.value == "" {
			continue
		}
		var err error
		if durations[i], err = time.ParseDuration(d.value); err != nil {
			return fmt.Errorf("faults: %s: %w", d.name, err)
		}
	}
	out := Faults{
		Latency:              durations[0],
		CommitLate:           durations[1],
		ListLag:              durations[2],
		ErrorRate:            raw.ErrorRate,
		CreateCommitThenFail: raw.CreateCommitThenFail,
		CreateCommitThenDrop: raw.CreateCommitThenDrop,
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*f = out
	return nil
}

// Validate reports settings that make no sense: a negative latency or count, or an error rate
// outside 0..1.
func (f Faults) Validate() error {
	var errs []error
	if f.Latency < 0 || f.CommitLate < 0 || f.ListLag < 0 {
		errs = append(errs, errors.New("faults: latency, commitLate and listLag must not be negative"))
	}
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		errs = append(errs, errors.New("faults: errorRate must be within 0..1"))
	}
	if f.CreateCommitThenFail < 0 || f.CreateCommitThenDrop < 0 {
		errs = append(errs, errors.New("faults: createCommitThenFail and createCommitThenDrop must not be negative"))
	}
	return errors.Join(errs...)
}

// lateCommit is a create admitted now and committed at at (Faults.CommitLate).
type lateCommit struct {
	at      time.Time
	req     *createRequest
	project *Project
}

// settle commits the late creates whose time has come. Every entry point (ServeHTTP, the admin
// API, the exported readers) calls it, so time passes lazily here too. Callers hold s.mu.
func (s *Server) settle() {
	if len(s.late) == 0 {
		return
	}
	now := s.now()
	rest := s.late[:0]
	for _, l := range s.late {
		if now.Before(l.at) {
			rest = append(rest, l)
			continue
		}
		s.commit(l.req, l.project, l.at).AnswerLost = true
	}
	s.late = rest
}
