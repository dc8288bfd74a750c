// Package browserbase is the operator's client for the Browserbase REST API v1: a small
// interface for the session calls the operator makes, and the one HTTP implementation of it.
//
// Credentials (the API key, the signing key, the full connect URL) are carried as Sensitive
// values, which print as "[redacted]", so they cannot leak through logs or error strings.
package browserbase
