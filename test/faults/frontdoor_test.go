package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// frontDoor stands in front of the emulator and aims faults at one API key (one project, so one
// phase), where the emulator's own faults hit whichever create comes next: it loses the answer
// of a create (the session is committed, the connection closes without an answer, as the
// emulator's CreateCommitThenDrop does), or runs a hook once a create has arrived and before
// the emulator serves it. It also records the calls made with the keys it tracks: the emulator
// records a call's project, not its key, so two keys of one project are told apart only here.
type frontDoor struct {
	next http.Handler

	mu      sync.Mutex
	lose    map[string]chan string // API key → gets the id of the session whose answer was lost, once
	before  map[string]func()      // API key → runs once, before the next create is served
	lost    []string               // ids of the sessions whose create answer was lost here
	tracked map[string]string      // API key → the label its calls are recorded under
	calls   []keyCall
}

// keyCall is one call made with a tracked key: when it arrived, and what it was answered (0: no
// answer, the connection was closed).
type keyCall struct {
	label        string
	at           time.Time
	method, path string
	status       int
}

func newFrontDoor(next http.Handler) *frontDoor {
	return &frontDoor{next: next, lose: map[string]chan string{}, before: map[string]func(){}, tracked: map[string]string{}}
}

// track records the calls made with key from now on, under label (never the key itself).
func (f *frontDoor) track(key, label string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tracked[key] = label
}

// callsOf is the calls recorded under label, in order of arrival.
func (f *frontDoor) callsOf(label string) []keyCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []keyCall
	for _, c := range f.calls {
		if c.label == label {
			out = append(out, c)
		}
	}
	return out
}

// loseNextCreate loses the answer of the next create made with key that Browserbase accepts,
// and returns a channel that gets that session's id.
func (f *frontDoor) loseNextCreate(key string) <-chan string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan string, 1)
	f.lose[key] = ch
	return ch
}

// beforeNextCreate runs hook when the next create made with key has arrived (its body read),
// before the emulator serves it.
func (f *frontDoor) beforeNextCreate(key string, hook func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before[key] = hook
}

// lostAnswers is the ids of the sessions whose create answer was lost here.
func (f *frontDoor) lostAnswers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lost...)
}

func (f *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("X-BB-API-Key")
	f.mu.Lock()
	label, tracked := f.tracked[key]
	f.mu.Unlock()
	if tracked {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		call := keyCall{label: label, at: time.Now(), method: r.Method, path: r.URL.Path}
		// Deferred, so that a call whose answer is lost (a panic that closes the connection) is
		// recorded too.
		defer func() {
			call.status = sw.status
			f.mu.Lock()
			f.calls = append(f.calls, call)
			f.mu.Unlock()
		}()
		w = sw
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/sessions" {
		f.next.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	hook := f.before[key]
	delete(f.before, key)
	lose := f.lose[key]
	f.mu.Unlock()
	if hook != nil {
		// The whole request is here before the hook runs, so that a client it stops has sent
		// everything: the session is committed now, not when the client resumes.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		hook()
	}
	if lose == nil {
		f.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r)
	var created struct {
		ID string `json:"id"`
	}
	f.mu.Lock()
	mine := f.lose[key] == lose && rec.Code == http.StatusCreated && json.Unmarshal(rec.Body.Bytes(), &created) == nil && created.ID != ""
	if mine {
		delete(f.lose, key)
		f.lost = append(f.lost, created.ID)
	}
	f.mu.Unlock()
	if !mine {
		// Refused (nothing was made, nothing to lose), or another create took the fault: pass it on.
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	lose <- created.ID
	if sw, ok := w.(*statusWriter); ok {
		sw.status = 0
	}
	// Closes the connection without an answer.
	panic(http.ErrAbortHandler)
}

// statusWriter keeps the status answered; a hijacked connection (an answer the emulator drops)
// records 0.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status = 0
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
