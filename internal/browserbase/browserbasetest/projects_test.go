package browserbasetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/browserbase/session-operator/internal/browserbase"
)

func TestProjectClientAnswersAndRecords(t *testing.T) {
	var gotKey browserbase.Sensitive
	c := &ProjectClient{
		ListProjectsFn: func(_ context.Context, apiKey browserbase.Sensitive) ([]browserbase.Project, error) {
			gotKey = apiKey
			return []browserbase.Project{{ID: "proj-1", Concurrency: 3}}, nil
		},
		GetProjectFn: func(_ context.Context, _ browserbase.Sensitive, id string) (*browserbase.Project, error) {
			return nil, ProjectNotFound(id)
		},
	}
	ctx := context.Background()

	listed, err := c.ListProjects(ctx, "key-1")
	if err != nil || len(listed) != 1 || listed[0].ID != "proj-1" || gotKey != "key-1" {
		t.Errorf("ListProjects() = %+v, %v (key %q); want proj-1 from ListProjectsFn with key-1", listed, err, gotKey.Reveal())
	}
	if _, err := c.GetProject(ctx, "key-1", "proj-2"); !browserbase.IsNotFound(err) {
		t.Errorf("GetProject() error = %v, want GetProjectFn's 404", err)
	}

	want := []ProjectCall{{Method: ListProjects}, {Method: GetProject, ID: "proj-2"}}
	if d := cmp.Diff(want, c.Calls()); d != "" {
		t.Errorf("Calls() mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]ProjectCall{{Method: GetProject, ID: "proj-2"}}, c.CallsTo(GetProject)); d != "" {
		t.Errorf("CallsTo(GetProject) mismatch (-want +got):\n%s", d)
	}
}

func TestProjectClientZeroValueRefusesEveryCall(t *testing.T) {
	var c ProjectClient
	ctx := context.Background()
	_, errGet := c.GetProject(ctx, "k", "p")
	_, errList := c.ListProjects(ctx, "k")
	for name, err := range map[string]error{"get": errGet, "list": errList} {
		var apiErr *browserbase.APIError
		if err == nil || errors.As(err, &apiErr) {
			t.Errorf("%s on the zero value: error = %v, want a refusal that is not an API answer", name, err)
		}
	}
	if n := len(c.Calls()); n != 2 {
		t.Errorf("%d calls recorded, want 2", n)
	}
}
