package sessionindex

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

func TestIndexFuncs(t *testing.T) {
	session := func(ref *v1alpha1.ContextReference) *v1alpha1.BrowserSession {
		return &v1alpha1.BrowserSession{Spec: v1alpha1.BrowserSessionSpec{BrowserSettings: &v1alpha1.BrowserSettings{Context: ref}}}
	}
	cases := map[string]struct {
		obj              client.Object
		wantName, wantID []string
	}{
		"by name":             {obj: session(&v1alpha1.ContextReference{Name: "profile"}), wantName: []string{"profile"}},
		"by id":               {obj: session(&v1alpha1.ContextReference{ID: "0d1f2a3b"}), wantID: []string{"0d1f2a3b"}},
		"no context":          {obj: session(nil)},
		"no browser settings": {obj: &v1alpha1.BrowserSession{}},
		"another kind":        {obj: &corev1.Secret{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := IndexFunc(tc.obj); !slices.Equal(got, tc.wantName) {
				t.Errorf("IndexFunc = %q, want %q", got, tc.wantName)
			}
			if got := IDIndexFunc(tc.obj); !slices.Equal(got, tc.wantID) {
				t.Errorf("IDIndexFunc = %q, want %q", got, tc.wantID)
			}
		})
	}
}

// indexer records the fields it is asked to index.
type indexer struct{ fields []string }

func (i *indexer) IndexField(_ context.Context, _ client.Object, field string, _ client.IndexerFunc) error {
	i.fields = append(i.fields, field)
	return nil
}

// Both controllers register the indexes; a manager gets each once.
func TestRegisterOnce(t *testing.T) {
	idx := &indexer{}
	for range 2 {
		if err := Register(t.Context(), idx); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{ContextName, ContextID, Project}; !slices.Equal(idx.fields, want) {
		t.Errorf("indexed %q, want %q", idx.fields, want)
	}
}

func TestProjectIndexFunc(t *testing.T) {
	cases := map[string]struct {
		spec v1alpha1.BrowserSessionSpec
		want []string
	}{
		"named project":     {spec: v1alpha1.BrowserSessionSpec{ProjectRef: &v1alpha1.ProjectReference{Kind: "BrowserbaseProject", Name: "main"}}, want: []string{"BrowserbaseProject/team/main"}},
		"kind left default": {spec: v1alpha1.BrowserSessionSpec{ProjectRef: &v1alpha1.ProjectReference{Name: "main"}}, want: []string{"BrowserbaseProject/team/main"}},
		"cluster project":   {spec: v1alpha1.BrowserSessionSpec{ProjectRef: &v1alpha1.ProjectReference{Kind: "ClusterBrowserbaseProject", Name: "shared"}}, want: []string{"ClusterBrowserbaseProject/shared"}},
		"nothing named":     {want: []string{DefaultProject}},
		"own key":           {spec: v1alpha1.BrowserSessionSpec{APIKeySecretRef: &v1alpha1.APIKeySecretReference{Name: "key"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bs := &v1alpha1.BrowserSession{Spec: tc.spec}
			bs.Namespace = "team"
			if got := ProjectIndexFunc(bs); !slices.Equal(got, tc.want) {
				t.Errorf("ProjectIndexFunc = %v, want %v", got, tc.want)
			}
		})
	}
	if got := ProjectIndexFunc(&corev1.Secret{}); got != nil {
		t.Errorf("another kind: %v", got)
	}
}
