package browserbase

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// An APIError is an answer from Browserbase with a status code of 400 or more. Its text carries
// the method, the path, the status and Browserbase's message; never the request, which may hold
// credentials.
type APIError struct {
	// Method and Path identify the call, e.g. "POST" "/v1/sessions".
	Method string
	Path   string
	// StatusCode is the HTTP status code.
	StatusCode int
	// Message is Browserbase's message, or the status text when the body had none.
	Message string
	// RetryAfter is how long Browserbase asked the caller to wait (Retry-After), zero if unsaid.
	RetryAfter time.Duration
	// RequestID is Browserbase's x-request-id, for support requests.
	RequestID string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("browserbase: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" && e.Message != http.StatusText(e.StatusCode) {
		msg += ": " + e.Message
	}
	return msg
}

// A CallError is a call that got no answer: a timeout, a refused or dropped connection, an
// answer that could not be read. For a create, the outcome is unknown: the session may exist.
type CallError struct {
	Method string
	Path   string
	Err    error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("browserbase: %s %s: %v", e.Method, e.Path, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status of an APIError in err's chain, or 0.
func StatusCode(err error) int {
	if apiErr, ok := errors.AsType[*APIError](err); ok {
		return apiErr.StatusCode
	}
	return 0
}

// IsNotFound reports whether Browserbase answered 404.
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// IsUnauthorized reports whether Browserbase refused the API key (401).
func IsUnauthorized(err error) bool { return StatusCode(err) == http.StatusUnauthorized }

// IsRateLimited reports whether Browserbase answered 429: the project's concurrency or
// session-creation limit is reached.
func IsRateLimited(err error) bool { return StatusCode(err) == http.StatusTooManyRequests }

// IsConcurrencyLimit reports whether err is a 429 for the project's concurrent-session limit,
// which clears only when another of its sessions ends, as opposed to the session-creation rate
// limit, which clears within its 60 s window. Browserbase gives no machine-readable distinction,
// only the message: "You've exceeded your max concurrent sessions limit".
func IsConcurrencyLimit(err error) bool {
	apiErr, ok := errors.AsType[*APIError](err)
	return ok && apiErr.StatusCode == http.StatusTooManyRequests &&
		strings.Contains(strings.ToLower(apiErr.Message), "concurrent")
}

// IsRejected reports whether Browserbase refused the request for a reason that the same request
// will meet again: a 4xx other than 401 (see IsUnauthorized), 408, 409 and 429.
func IsRejected(err error) bool {
	code := StatusCode(err)
	switch code {
	case http.StatusUnauthorized, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return false
	}
	return code >= 400 && code < 500
}

// RetryAfter returns the wait Browserbase asked for in err's chain, or 0.
func RetryAfter(err error) time.Duration {
	if apiErr, ok := errors.AsType[*APIError](err); ok {
		return apiErr.RetryAfter
	}
	return 0
}

// maxRetryAfter bounds what a misbehaving server can make the operator wait.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
		d = maxRetryAfter
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// Refused reports whether Browserbase answered a call with a refusal (a 4xx other than 408), so
// that the call certainly changed nothing: a create that was refused made nothing to look for.
// A 5xx, a 408 or no answer at all leaves the outcome unknown.
func Refused(err error) bool {
	code := StatusCode(err)
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout
}
