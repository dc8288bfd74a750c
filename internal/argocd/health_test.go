package argocd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// TestHealthTestdata runs each kind's health_test.yaml, the test format of Argo CD's built-in
// checks.
func TestHealthTestdata(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) { testHealthTestdata(t, kind) })
	}
}

func testHealthTestdata(t *testing.T, kind string) {
	dir := filepath.Dir(ScriptPathFor(kind))
	raw, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests []struct {
			HealthStatus Health `json:"healthStatus"`
			InputPath    string `json:"inputPath"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(raw, &suite); err != nil {
		t.Fatal(err)
	}
	if len(suite.Tests) < 6 {
		t.Fatalf("health_test.yaml has %d cases, want the six it was written with", len(suite.Tests))
	}
	for _, tc := range suite.Tests {
		t.Run(tc.InputPath, func(t *testing.T) {
			input, err := os.ReadFile(filepath.Join(dir, tc.InputPath))
			if err != nil {
				t.Fatal(err)
			}
			obj := map[string]any{}
			if err := yaml.Unmarshal(input, &obj); err != nil {
				t.Fatal(err)
			}
			if obj["kind"] != kind {
				t.Fatalf("%s is a %v, want a %s", tc.InputPath, obj["kind"], kind)
			}
			got, err := Evaluate(obj)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.HealthStatus, got); diff != "" {
				t.Errorf("health (-want +got):\n%s", diff)
			}
		})
	}
}
