package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestListSessionsMalformedQuery(t *testing.T) {
	f := newFixture(t, Project{}, false)
	f.create(t, testKey, map[string]any{"userMetadata": map[string]any{"k8s": map[string]any{"uid": "x"}}})
	for _, q := range []string{
		"k8s.uid:x",
		"metadata['k8s']:'x'",
		"user_metadata:'x'",
		"user_metadata['k8s']",
		"user_metadata['k8s",
		"user_metadata['k8s']:x",
		"user_metadata['k8s']:'x",
		"user_metadata['k8s']='x'",
	} {
		resp, data := f.call(t, http.MethodGet, "/v1/sessions?q="+url.QueryEscape(q), testKey, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("q=%s: status %d, want 400: %s", q, resp.StatusCode, data)
			continue
		}
		wantError(t, resp, data, http.StatusBadRequest)
	}
}

func TestJSONStringLength(t *testing.T) {
	tests := []struct {
		json string
		want int // JSON.stringify(JSON.parse(json)).length in JavaScript
	}{
		{`{}`, 2},
		{`{"a":"b"}`, 9},
		{`{"a":"<>&"}`, 11},               // no HTML escaping
		{`{"a":"\u2028"}`, 9},             // U+2028 as itself
		{`{"a":"é"}`, 9},                  // one code unit
		{`{"a":"😀"}`, 10},                 // a surrogate pair
		{`{"a":"\"\\\n\t"}`, 16},          // two-character escapes
		{`{"a":"\u0001"}`, 14},            // \u0001
		{`{"a":1,"b":true,"c":null}`, 25}, // numbers, booleans, null
		{`{"a":1.5,"b":[1,"x",{}],"c":{}}`, 31},
		{`{"a":1e21,"b":0.000001}`, 24}, // 1e+21 and 0.000001, as JavaScript writes them
		{`{"k8s":{"uid":"0b6f3c2e-1f2a-4c5d-9e8f-0a1b2c3d4e5f"}}`, 54},
	}
	for _, tt := range tests {
		var v map[string]any
		if err := json.Unmarshal([]byte(tt.json), &v); err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		if got := jsonStringLength(v); got != tt.want {
			t.Errorf("jsonStringLength(%s) = %d, want %d", tt.json, got, tt.want)
		}
	}
}

// Browserbase counts userMetadata as JSON.stringify(...).length: 100 '<' characters are 110
// characters there (Go's encoder would make them 610 bytes), and the limit is under 512.
func TestUserMetadataLengthCountedAsBrowserbaseCounts(t *testing.T) {
	f := newFixture(t, Project{}, false)
	for _, tt := range []struct {
		name  string
		value string
		want  int
	}{
		{name: "100 angle brackets", value: strings.Repeat("<", 100), want: http.StatusCreated},
		{name: "ampersands up to 511", value: strings.Repeat("&", 511-8), want: http.StatusCreated}, // {"a":"…"} is 8 + n
		{name: "512 characters", value: strings.Repeat("x", 512-8), want: http.StatusBadRequest},
		{name: "emoji counted twice", value: strings.Repeat("😀", 252), want: http.StatusBadRequest}, // 8 + 504
		{name: "emoji under the limit", value: strings.Repeat("😀", 251), want: http.StatusCreated},  // 8 + 502
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := f.call(t, http.MethodPost, "/v1/sessions", testKey, map[string]any{"userMetadata": map[string]any{"a": tt.value}})
			if resp.StatusCode != tt.want {
				t.Fatalf("create: status %d, want %d: %s", resp.StatusCode, tt.want, data)
			}
		})
	}
}
