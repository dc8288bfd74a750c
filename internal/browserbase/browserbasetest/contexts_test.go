package browserbasetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/browserbase/session-operator/internal/browserbase"
)

func TestContextClientAnswersAndRecords(t *testing.T) {
	var gotKey browserbase.Sensitive
	c := &ContextClient{
		CreateContextFn: func(_ context.Context, apiKey browserbase.Sensitive, projectID string) (*browserbase.Context, error) {
			gotKey = apiKey
			return &browserbase.Context{ID: "ctx-1", ProjectID: projectID}, nil
		},
		DeleteContextFn: func(_ context.Context, _ browserbase.Sensitive, id string) error {
			return ContextNotFound("DELETE", id)
		},
	}
	ctx := context.Background()

	created, err := c.CreateContext(ctx, "key-1", "proj-1")
	if err != nil || created.ID != "ctx-1" || created.ProjectID != "proj-1" || gotKey != "key-1" {
		t.Errorf("CreateContext() = %+v, %v (key %q); want ctx-1 in proj-1 from CreateContextFn with key-1", created, err, gotKey.Reveal())
	}
	if err := c.DeleteContext(ctx, "key-1", "ctx-1"); !browserbase.IsNotFound(err) {
		t.Errorf("DeleteContext() error = %v, want DeleteContextFn's 404", err)
	}
	// GetContextFn is unset: the call fails, and is still recorded.
	if got, err := c.GetContext(ctx, "key-1", "ctx-2"); got != nil || err == nil || browserbase.IsNotFound(err) {
		t.Errorf("GetContext() without GetContextFn = %v, %v; want nil and an error of its own", got, err)
	}

	want := []ContextCall{
		{Method: CreateContext, ProjectID: "proj-1"},
		{Method: DeleteContext, ID: "ctx-1"},
		{Method: GetContext, ID: "ctx-2"},
	}
	if d := cmp.Diff(want, c.Calls()); d != "" {
		t.Errorf("Calls() mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]ContextCall{{Method: DeleteContext, ID: "ctx-1"}}, c.CallsTo(DeleteContext)); d != "" {
		t.Errorf("CallsTo(DeleteContext) mismatch (-want +got):\n%s", d)
	}
}

func TestContextClientZeroValueRefusesEveryCall(t *testing.T) {
	var c ContextClient
	ctx := context.Background()
	_, errCreate := c.CreateContext(ctx, "k", "")
	_, errGet := c.GetContext(ctx, "k", "x")
	errDelete := c.DeleteContext(ctx, "k", "x")
	for name, err := range map[string]error{"create": errCreate, "get": errGet, "delete": errDelete} {
		var apiErr *browserbase.APIError
		if err == nil || errors.As(err, &apiErr) {
			t.Errorf("%s on the zero value: error = %v, want a refusal that is not an API answer", name, err)
		}
	}
	if n := len(c.Calls()); n != 3 {
		t.Errorf("%d calls recorded, want 3", n)
	}
}
