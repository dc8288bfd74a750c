package browserbase

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAPIErrorText(t *testing.T) {
	tests := []struct {
		err  *APIError
		want string
	}{
		{
			err:  &APIError{Method: "POST", Path: "/v1/sessions", StatusCode: 429, Message: "limit reached", RequestID: "r1"},
			want: "browserbase: POST /v1/sessions: 429 Too Many Requests: limit reached",
		},
		{
			// A message that only repeats the status text is not repeated.
			err:  &APIError{Method: "GET", Path: "/v1/sessions/x", StatusCode: 404, Message: "Not Found"},
			want: "browserbase: GET /v1/sessions/x: 404 Not Found",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// statusHandler answers each GET /v1/sessions/{code} with that status code.
func statusHandler(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/v1/sessions/"))
	if err != nil {
		http.Error(w, "bad test path", http.StatusTeapot)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, `{"statusCode":%d,"error":%q,"message":"test"}`, code, http.StatusText(code))
}

func TestErrorClassification(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(statusHandler))

	tests := []struct {
		code                                                          int
		wantNotFound, wantUnauthorized, wantRateLimited, wantRejected bool
	}{
		{code: 400, wantRejected: true},
		{code: 401, wantUnauthorized: true},
		{code: 403, wantRejected: true},
		{code: 404, wantNotFound: true, wantRejected: true},
		{code: 408},
		{code: 409},
		{code: 422, wantRejected: true},
		{code: 429, wantRateLimited: true},
		{code: 500},
		{code: 502},
		{code: 503},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			_, err := c.GetSession(context.Background(), testAPIKey, strconv.Itoa(tt.code))
			if StatusCode(err) != tt.code {
				t.Fatalf("StatusCode(%v) = %d, want %d", err, StatusCode(err), tt.code)
			}
			// Classification must see through wrapping.
			for _, e := range []error{err, fmt.Errorf("reconcile: %w", err)} {
				got := [4]bool{IsNotFound(e), IsUnauthorized(e), IsRateLimited(e), IsRejected(e)}
				want := [4]bool{tt.wantNotFound, tt.wantUnauthorized, tt.wantRateLimited, tt.wantRejected}
				if got != want {
					t.Errorf("[IsNotFound IsUnauthorized IsRateLimited IsRejected](%v) = %v, want %v", e, got, want)
				}
			}
		})
	}
}

func TestErrorClassificationOfOtherErrors(t *testing.T) {
	for _, err := range []error{
		nil,
		errors.New("boom"),
		&CallError{Method: "POST", Path: "/v1/sessions", Err: context.DeadlineExceeded},
	} {
		if StatusCode(err) != 0 || IsNotFound(err) || IsUnauthorized(err) || IsRateLimited(err) || IsRejected(err) || RetryAfter(err) != 0 {
			t.Errorf("error %v classified as an API error", err)
		}
	}
}

func TestRetryAfterFromAnswer(t *testing.T) {
	tests := []struct {
		name     string
		header   func(now time.Time) string
		min, max time.Duration
	}{
		{name: "absent", header: func(time.Time) string { return "" }},
		{name: "seconds", header: func(time.Time) string { return "30" }, min: 30 * time.Second, max: 30 * time.Second},
		{name: "seconds with spaces", header: func(time.Time) string { return " 5 " }, min: 5 * time.Second, max: 5 * time.Second},
		{name: "zero", header: func(time.Time) string { return "0" }},
		{name: "negative", header: func(time.Time) string { return "-5" }},
		{name: "absurd seconds are capped", header: func(time.Time) string { return "86400" }, min: time.Hour, max: time.Hour},
		{name: "max int64 seconds are capped", header: func(time.Time) string { return "9223372036854775807" }, min: time.Hour, max: time.Hour},
		{name: "garbage", header: func(time.Time) string { return "soon" }},
		{name: "fraction", header: func(time.Time) string { return "1.5" }},
		{
			name:   "HTTP date",
			header: func(now time.Time) string { return now.Add(2 * time.Minute).UTC().Format(http.TimeFormat) },
			// The header has a 1 s resolution and the call takes a moment.
			min: 2*time.Minute - 10*time.Second, max: 2 * time.Minute,
		},
		{
			name:   "far HTTP date is capped",
			header: func(now time.Time) string { return now.Add(48 * time.Hour).UTC().Format(http.TimeFormat) },
			min:    time.Hour, max: time.Hour,
		},
		{name: "past HTTP date", header: func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := tt.header(time.Now())
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if header != "" {
					w.Header().Set("Retry-After", header)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			})
			c := newTestClient(t, h)

			_, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
			if !IsRateLimited(err) {
				t.Fatalf("CreateSession() error = %v, want a 429", err)
			}
			if got := RetryAfter(err); got < tt.min || got > tt.max {
				t.Errorf("RetryAfter() with Retry-After %q = %v, want in [%v, %v]", header, got, tt.min, tt.max)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{"3600", time.Hour},
		{"3601", time.Hour},
		{"-1", 0},
		{"later", 0},
		{"Sun, 01 Mar 2026 10:01:30 GMT", 90 * time.Second},                                 // IMF-fixdate
		{"Sunday, 01-Mar-26 10:00:10 GMT", 10 * time.Second},                                // RFC 850
		{"Sun Mar  1 10:00:20 2026", 20 * time.Second},                                      // asctime
		{"Mon, 02 Mar 2026 10:00:00 GMT", time.Hour},                                        // a day away: capped
		{"Sun, 01 Mar 2026 09:00:00 GMT", 0},                                                // past
		{now.Add(45 * time.Second).Format(time.RFC3339), 0},                                 // not an HTTP date
		{"Sun, 01 Mar 2026 10:01:30 GMT garbage", 0},                                        // trailing garbage
		{"  Sun, 01 Mar 2026 10:01:30 GMT  ", 90 * time.Second},                             // surrounding space
		{"Sun, 01 Mar 2026 10:00:00 GMT", 0},                                                // now
		{"1", time.Second},                                                                  // smallest positive
		{"0000000000000000000000000000000000000000000000000000000000042", 42 * time.Second}, // leading zeros
		{"99999999999999999999", time.Hour},                                                 // beyond int64: capped, not "now"
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.header, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestRefused(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&APIError{StatusCode: 400}, true},
		{&APIError{StatusCode: 401}, true},
		{&APIError{StatusCode: 429}, true},
		{&APIError{StatusCode: 408}, false},
		{&APIError{StatusCode: 500}, false},
		{&CallError{Err: context.DeadlineExceeded}, false},
		{nil, false},
	}
	for _, tc := range cases {
		if got := Refused(tc.err); got != tc.want {
			t.Errorf("Refused(%v) = %t, want %t", tc.err, got, tc.want)
		}
	}
}

func TestIsConcurrencyLimit(t *testing.T) {
	concurrency := "You've exceeded your max concurrent sessions limit (limit 1, currently 1)"
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "concurrent-session limit", err: &APIError{StatusCode: 429, Message: concurrency}, want: true},
		{name: "wrapped", err: fmt.Errorf("create: %w", &APIError{StatusCode: 429, Message: concurrency}), want: true},
		{name: "other case", err: &APIError{StatusCode: 429, Message: "Too many CONCURRENT sessions"}, want: true},
		{name: "creation rate", err: &APIError{StatusCode: 429, Message: "You've exceeded your session creation rate limit (limit 5 per minute)"}},
		{name: "429 without a message", err: &APIError{StatusCode: 429, Message: "Too Many Requests"}},
		{name: "not a 429", err: &APIError{StatusCode: 400, Message: "concurrent is not a field"}},
		{name: "no answer", err: &CallError{Err: errors.New("concurrent dial failed")}},
		{name: "plain error", err: errors.New("max concurrent sessions")},
		{name: "nil", err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsConcurrencyLimit(tt.err); got != tt.want {
				t.Errorf("IsConcurrencyLimit(%v) = %t, want %t", tt.err, got, tt.want)
			}
		})
	}
}

// TestIsConcurrencyLimitFromAnswer reads the limit from a 429 as the HTTP client decodes it.
func TestIsConcurrencyLimitFromAnswer(t *testing.T) {
	for message, want := range map[string]bool{
		"You've exceeded your max concurrent sessions limit (limit 3, currently 3)": true,
		"You've exceeded your session creation rate limit (limit 5 per minute)":     false,
	} {
		h := &recorder{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "10"},
			body: `{"statusCode":429,"error":"Too Many Requests","message":"` + message + `"}`}
		c := newTestClient(t, h)
		_, err := c.CreateSession(context.Background(), testAPIKey, CreateSessionRequest{})
		if got := IsConcurrencyLimit(err); got != want || !IsRateLimited(err) || RetryAfter(err) != 10*time.Second {
			t.Errorf("answer %q: IsConcurrencyLimit = %t (want %t), IsRateLimited = %t, RetryAfter = %v; error %v",
				message, got, want, IsRateLimited(err), RetryAfter(err), err)
		}
	}
}
