package browserbase

import (
	"net/url"
	"strings"
)

// RedactURL returns the URL without the parts that can carry a credential: the query string
// (signingKey, apiKey, …), the fragment and any user information. A connect URL redacted this
// way still says which host and session path a workload connects to, and is safe for status,
// events and logs. A URL that does not parse yields "", never the raw text.
func RedactURL(raw Sensitive) string {
	u, err := url.Parse(raw.Reveal())
	if err != nil || u.Opaque != "" {
		return ""
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

// redactUserinfo drops the user information (user:password@) from an address, and keeps the
// rest. An address with an @ that does not parse as a URL with a host yields "[redacted]".
func redactUserinfo(raw string) string {
	if !strings.Contains(raw, "@") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return "[redacted]"
	}
	u.User = nil
	return u.String()
}

// MetadataQuery builds a user-metadata query for ListOptions.Query, for example
// MetadataQuery("1234", "k8s", "uid") is user_metadata['k8s']['uid']:'1234'. Browserbase
// matches string values by equality. Its quoting rules are undocumented, so quotes and
// backslashes are refused rather than guessed at.
func MetadataQuery(value string, path ...string) (string, bool) {
	if len(path) == 0 {
		return "", false
	}
	var b strings.Builder
	b.WriteString("user_metadata")
	for _, p := range append(path, value) {
		if strings.ContainsAny(p, `'\`) {
			return "", false
		}
	}
	for _, p := range path {
		b.WriteString("['" + p + "']")
	}
	b.WriteString(":'" + value + "'")
	return b.String(), true
}
