package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
)

// parseQuery compiles user_metadata['a']['b']:'value' into a matcher: string equality at a path.
func parseQuery(q string) (func(map[string]any) bool, error) {
	rest, ok := strings.CutPrefix(q, "user_metadata")
	if !ok {
		return nil, fmt.Errorf("query must start with user_metadata")
	}
	var path []string
	for strings.HasPrefix(rest, "['") {
		end := strings.Index(rest, "']")
		if end < 0 {
			return nil, fmt.Errorf("unterminated path segment")
		}
		path = append(path, rest[2:end])
		rest = rest[end+2:]
	}
	value, ok := strings.CutPrefix(rest, ":'")
	if !ok || len(path) == 0 || !strings.HasSuffix(value, "'") {
		return nil, fmt.Errorf("query must look like user_metadata['key']:'value'")
	}
	value = strings.TrimSuffix(value, "'")
	return func(md map[string]any) bool {
		var cur any = md
		for _, p := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			cur = m[p]
		}
		str, ok := cur.(string)
		return ok && str == value
	}, nil
}

// maxUserMetadata is Browserbase's limit on userMetadata: its JSON must be under this many
// characters.
const maxUserMetadata = 512

// jsonStringLength is the length of JSON.stringify(v) in JavaScript, which is how Browserbase's
// servers count userMetadata: UTF-16 code units, no HTML escaping (Go's encoder writes < > & as
// six-character \u escapes), U+2028 and U+2029 as themselves, control characters other than
// \b \f \n \r \t as \u00XX. v is what encoding/json decoded: maps, slices, strings, float64,
// bools and nil.
func jsonStringLength(v any) int {
	switch v := v.(type) {
	case nil:
		return len("null")
	case bool:
		if v {
			return len("true")
		}
		return len("false")
	case string:
		return quotedLength(v)
	case float64:
		b, _ := json.Marshal(v) // Go formats float64 as ECMAScript's Number::toString does
		return len(b)
	case json.Number:
		return len(v)
	case []any:
		n := 2 + max(len(v)-1, 0) // [ ] and the commas
		for _, x := range v {
			n += jsonStringLength(x)
		}
		return n
	case map[string]any:
		n := 2 + max(len(v)-1, 0) // { } and the commas
		for k, x := range v {
			n += quotedLength(k) + 1 + jsonStringLength(x)
		}
		return n
	default:
		b, _ := json.Marshal(v)
		return len(b)
	}
}

// quotedLength is the UTF-16 length of JSON.stringify(s) for a string s.
func quotedLength(s string) int {
	n := 2
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r < 0x20:
			n += 6
		case r > 0xFFFF:
			n += 2 // a surrogate pair
		default:
			n++
		}
	}
	return n
}
