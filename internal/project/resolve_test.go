package project

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/reconcile"
	"github.com/browserbase/session-operator/internal/scheme"
)

func TestResolve(t *testing.T) {
	day := func(d int) metav1.Time { return metav1.NewTime(time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC)) }
	objects := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "own-key"}, Data: map[string][]byte{"apiKey": []byte("own\n")}},
		&v1alpha1.BrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "main"}},
		&v1alpha1.BrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "unchecked"}},
		&v1alpha1.BrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "broken"}},
		&v1alpha1.ClusterBrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Name: "shared"}},
		&v1alpha1.ClusterBrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Name: "newer-default", CreationTimestamp: day(2),
			Annotations: map[string]string{v1alpha1.AnnotationDefaultProject: "true"}}},
		&v1alpha1.ClusterBrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Name: "older-default", CreationTimestamp: day(1),
			Annotations: map[string]string{v1alpha1.AnnotationDefaultProject: "true"}}},
	}
	registry := NewRegistry()
	main := Ref{Kind: v1alpha1.KindBrowserbaseProject, Namespace: "team", Name: "main"}
	registry.Set(Entry{Ref: main, Key: "main-key", Ready: true})
	registry.Set(Entry{Ref: Ref{Kind: v1alpha1.KindBrowserbaseProject, Namespace: "team", Name: "broken"}, Message: "Secret \"k\" not found"})
	shared := Ref{Kind: v1alpha1.KindClusterBrowserbaseProject, Name: "shared"}
	registry.Set(Entry{Ref: shared, Key: "shared-key", Ready: true, Shares: map[string]int{"team": 2}})
	registry.Set(Entry{Ref: Ref{Kind: v1alpha1.KindClusterBrowserbaseProject, Name: "older-default"}, Key: "default-key", Ready: true})

	r := &Resolver{
		Reader:      fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objects...).Build(),
		Credentials: &reconcile.Credentials{Default: "env-key"},
		Registry:    registry, RecheckInterval: time.Minute,
	}
	r.Credentials.Reader = r.Reader
	cluster := func(name string) *v1alpha1.ProjectReference {
		return &v1alpha1.ProjectReference{Kind: v1alpha1.KindClusterBrowserbaseProject, Name: name}
	}
	cases := map[string]struct {
		namespace  string
		projectRef *v1alpha1.ProjectReference
		keyRef     *v1alpha1.APIKeySecretReference
		wantKey    string
		wantQueue  string
		wantWait   string
		wantStall  string
		wantInMsg  string
	}{
		"a key named directly":                      {namespace: "team", keyRef: &v1alpha1.APIKeySecretReference{Name: "own-key"}, wantKey: "own", wantQueue: "key:"},
		"a namespaced project":                      {namespace: "team", projectRef: &v1alpha1.ProjectReference{Name: "main"}, wantKey: "main-key", wantQueue: "BrowserbaseProject/team/main"},
		"a missing project":                         {namespace: "team", projectRef: &v1alpha1.ProjectReference{Name: "nope"}, wantWait: v1alpha1.ReasonProjectNotFound, wantInMsg: "BrowserbaseProject team/nope not found"},
		"a project not checked yet":                 {namespace: "team", projectRef: &v1alpha1.ProjectReference{Name: "unchecked"}, wantWait: v1alpha1.ReasonProjectNotReady},
		"a project that is not Ready":               {namespace: "team", projectRef: &v1alpha1.ProjectReference{Name: "broken"}, wantWait: v1alpha1.ReasonProjectNotReady, wantInMsg: `Secret "k" not found`},
		"a namespace in the shares":                 {namespace: "team", projectRef: cluster("shared"), wantKey: "shared-key", wantQueue: "ClusterBrowserbaseProject/shared"},
		"a namespace outside them":                  {namespace: "other", projectRef: cluster("shared"), wantStall: v1alpha1.ReasonNamespaceNotAllowed, wantInMsg: "spec.namespaceShares"},
		"nothing named: the oldest default project": {namespace: "other", wantKey: "default-key", wantQueue: "ClusterBrowserbaseProject/older-default"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			acct, err := r.Resolve(context.Background(), tc.namespace, tc.projectRef, tc.keyRef, false)
			var wait *reconcile.WaitError
			var stall *reconcile.StallError
			switch {
			case tc.wantWait != "":
				if !errors.As(err, &wait) || wait.Reason != tc.wantWait || !strings.Contains(wait.Message, tc.wantInMsg) {
					t.Fatalf("err = %v, want a %s wait saying %q", err, tc.wantWait, tc.wantInMsg)
				}
			case tc.wantStall != "":
				if !errors.As(err, &stall) || stall.Reason != tc.wantStall || !strings.Contains(stall.Message, tc.wantInMsg) {
					t.Fatalf("err = %v, want a %s stall saying %q", err, tc.wantStall, tc.wantInMsg)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if acct.Key.Reveal() != tc.wantKey || !strings.HasPrefix(string(acct.Queue), tc.wantQueue) {
					t.Errorf("account key %q queue %q, want %q, %q…", acct.Key.Reveal(), acct.Queue, tc.wantKey, tc.wantQueue)
				}
			}
		})
	}

	t.Run("without a default project, the operator's key", func(t *testing.T) {
		r := &Resolver{Reader: fake.NewClientBuilder().WithScheme(scheme.New()).Build(), Credentials: &reconcile.Credentials{Default: "env-key"}, Registry: NewRegistry()}
		acct, err := r.Resolve(context.Background(), "team", nil, nil, false)
		if err != nil || acct.Key.Reveal() != "env-key" || acct.Project != nil {
			t.Fatalf("Resolve = %+v, %v; want the operator's key", acct, err)
		}
	})
}

func TestKeyQueueTellsKeysApartWithoutShowingThem(t *testing.T) {
	a, b := KeyQueue("bb_live_secret_a"), KeyQueue("bb_live_secret_b")
	if a == b || strings.Contains(string(a), "secret") || len(a) != len("key:")+8 {
		t.Errorf("KeyQueue gave %q and %q", a, b)
	}
}

// A resource that holds a session keeps the last key its project published while the project is
// not Ready; one that has none yet waits.
func TestAHeldSessionKeepsTheLastPublishedKey(t *testing.T) {
	registry := NewRegistry()
	ref := Ref{Kind: v1alpha1.KindBrowserbaseProject, Namespace: "team", Name: "main"}
	registry.Set(Entry{Ref: ref, Key: "last-good", Message: "the key in Secret k belongs to another project"})
	r := &Resolver{Registry: registry, Credentials: &reconcile.Credentials{},
		Reader: fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(
			&v1alpha1.BrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "main"}}).Build()}
	named := &v1alpha1.ProjectReference{Name: "main"}
	if acct, err := r.Resolve(context.Background(), "team", named, nil, true); err != nil || acct.Key.Reveal() != "last-good" {
		t.Errorf("held: %+v, %v; want the last published key", acct, err)
	}
	var wait *reconcile.WaitError
	if _, err := r.Resolve(context.Background(), "team", named, nil, false); !errors.As(err, &wait) || wait.Reason != v1alpha1.ReasonProjectNotReady {
		t.Errorf("not held: %v, want a ProjectNotReady wait", err)
	}
}
