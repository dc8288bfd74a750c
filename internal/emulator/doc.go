// Package emulator is an in-memory Browserbase API v1, served as an http.Handler: sessions
// (create, get, list with the status and q filters, release), API keys that belong to projects
// with concurrency and creation-rate limits, sessions that time out at expiresAt, and fault knobs
// (latency, 5xx answers, a create that commits and then fails). It follows the contract in the
// operator's docs and shares no code with the operator's client, so tests of one check the other.
//
// Tests use it through httptest; hack/ wraps it in a standalone program.
package emulator
