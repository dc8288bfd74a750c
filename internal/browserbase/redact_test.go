package browserbase

import "testing"

func TestRedactURL(t *testing.T) {
	tests := []struct {
		raw  Sensitive
		want string
	}{
		{raw: "wss://connect.usw2.browserbase.com/?signingKey=abc", want: "wss://connect.usw2.browserbase.com/"},
		{raw: "wss://connect.usw2.browserbase.com?signingKey=abc&apiKey=def", want: "wss://connect.usw2.browserbase.com"},
		{raw: "https://api.browserbase.com/v1/sessions/abc?apiKey=bb_live_x", want: "https://api.browserbase.com/v1/sessions/abc"},
		{raw: "https://connect.browserbase.com/debug#token=abc", want: "https://connect.browserbase.com/debug"},
		{raw: "wss://user:pass@connect.browserbase.com/x?signingKey=abc#frag", want: "wss://connect.browserbase.com/x"},
		{raw: "wss://onlyuser@connect.browserbase.com/", want: "wss://connect.browserbase.com/"},
		{raw: "https://connect.usw2.browserbase.com/webdriver", want: "https://connect.usw2.browserbase.com/webdriver"},
		{raw: "wss://connect.browserbase.com/?", want: "wss://connect.browserbase.com/"},
		{raw: "", want: ""},
		{raw: "wss://connect.browserbase.com/%zz?signingKey=abc", want: ""},
		{raw: "wss://[::1?signingKey=abc", want: ""},
		{raw: "http://a b.com/?signingKey=abc", want: ""},
		{raw: "mailto:user:signingKey@example.com", want: ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.raw); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.raw.Reveal(), got, tt.want)
		}
	}
}

func TestMetadataQuery(t *testing.T) {
	tests := []struct {
		value  string
		path   []string
		want   string
		wantOK bool
	}{
		{value: "1234", path: []string{"k8s", "uid"}, want: "user_metadata['k8s']['uid']:'1234'", wantOK: true},
		{value: "x", path: []string{"a"}, want: "user_metadata['a']:'x'", wantOK: true},
		{value: "with space", path: []string{"a b"}, want: "user_metadata['a b']:'with space'", wantOK: true},
		{value: "it's", path: []string{"k8s", "uid"}},
		{value: `back\slash`, path: []string{"k8s", "uid"}},
		{value: "1234", path: []string{"k8s", "u'id"}},
		{value: "1234", path: []string{`k8s\`, "uid"}},
		{value: "1234"}, // no path: not a query Browserbase accepts
	}
	for _, tt := range tests {
		got, ok := MetadataQuery(tt.value, tt.path...)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("MetadataQuery(%q, %q) = %q, %t; want %q, %t", tt.value, tt.path, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestRedactUserinfo(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{raw: "http://proxy.example.com:3128", want: "http://proxy.example.com:3128"},
		{raw: "http://user:pw@proxy.example.com:3128", want: "http://proxy.example.com:3128"},
		{raw: "http://user@proxy.example.com:3128/path?x=1", want: "http://proxy.example.com:3128/path?x=1"},
		{raw: "user:pw@proxy.example.com:3128", want: "[redacted]"},
		{raw: "http://user:pw@[::1", want: "[redacted]"},
		{raw: "proxy.example.com:3128", want: "proxy.example.com:3128"},
		{raw: "", want: ""},
	}
	for _, tt := range tests {
		if got := redactUserinfo(tt.raw); got != tt.want {
			t.Errorf("redactUserinfo(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
