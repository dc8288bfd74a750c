package browsersession

import "testing"

func TestJSONLengthCountsAsJavaScriptDoes(t *testing.T) {
	cases := map[string]struct {
		in   any
		want int
	}{
		"ascii":                         {map[string]any{"a": "b"}, len(`{"a":"b"}`)},
		"html characters not escaped":   {map[string]any{"a": "<&>"}, len(`{"a":"<&>"}`)},
		"astral characters count twice": {map[string]any{"a": "😀"}, len(`{"a":""}`) + 2},
		"quotes escaped":                {map[string]any{"a": `"`}, len(`{"a":"\""}`)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := jsonLength(tc.in); got != tc.want {
				t.Errorf("jsonLength(%v) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}
