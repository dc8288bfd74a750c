// Package browserbase is the operator's client for the Browserbase REST API v1: small interfaces
// for the session calls (Client), the context calls (ContextClient) and the project calls
// (ProjectClient) the operator makes, the one HTTP implementation of all three, and a Router
// that sends each key's calls to the API address registered for it.
//
// Credentials (the API key, the signing key, the full connect URL, a proxy's password) are
// carried as Sensitive values, which print as "[redacted]" through every fmt verb, so they cannot
// leak through error strings. Structured loggers encode by reflection instead (zap's JSON encoder
// uses encoding/json, which sends a Sensitive value in clear, as the API needs): Sensitive and
// every type that holds one implement logr.Marshaler, so that such a logger gets a copy without
// the credentials. Log these values themselves, or pointers to them, not slices or structs that
// hold them.
package browserbase
