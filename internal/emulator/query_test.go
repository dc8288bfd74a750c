package emulator

import (
	"net/http"
	"net/url"
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
