package browserbaseproject

import (
	"math"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/queue"
)

func clusterProject(spec v1alpha1.BrowserbaseProjectSpec, shares ...v1alpha1.NamespaceShare) *v1alpha1.ClusterBrowserbaseProject {
	return &v1alpha1.ClusterBrowserbaseProject{ObjectMeta: metav1.ObjectMeta{Name: "shared"},
		Spec: v1alpha1.ClusterBrowserbaseProjectSpec{BrowserbaseProjectSpec: spec, NamespaceShares: shares}}
}

func TestLimitsOf(t *testing.T) {
	plan := browserbase.Project{ID: "p", Concurrency: 25}
	cases := map[string]struct {
		obj  interface{ GetName() string }
		plan browserbase.Project
		def  int
		want queue.Limits
	}{
		"the plan's concurrency, the operator's default rate": {
			obj: &v1alpha1.BrowserbaseProject{}, plan: plan, def: 40,
			want: queue.Limits{Concurrency: 25, CreatesPerMinute: 40},
		},
		"budgets below the plan": {
			obj: &v1alpha1.BrowserbaseProject{Spec: v1alpha1.BrowserbaseProjectSpec{
				MaxConcurrentSessions: ptr.To[int32](10), MaxCreatesPerMinute: ptr.To[int32](20)}},
			plan: plan, def: 40, want: queue.Limits{Concurrency: 10, CreatesPerMinute: 20},
		},
		"a concurrency budget above the plan is not obeyed": {
			obj:  &v1alpha1.BrowserbaseProject{Spec: v1alpha1.BrowserbaseProjectSpec{MaxConcurrentSessions: ptr.To[int32](100)}},
			plan: plan, want: queue.Limits{Concurrency: 25},
		},
		"a plan without a reported limit takes the budget": {
			obj:  &v1alpha1.BrowserbaseProject{Spec: v1alpha1.BrowserbaseProjectSpec{MaxConcurrentSessions: ptr.To[int32](7)}},
			plan: browserbase.Project{ID: "p"}, want: queue.Limits{Concurrency: 7},
		},
		"a cluster project's shares, uncapped ones without limit": {
			obj: clusterProject(v1alpha1.BrowserbaseProjectSpec{},
				v1alpha1.NamespaceShare{Namespace: "a", MaxConcurrentSessions: ptr.To[int32](3)}, v1alpha1.NamespaceShare{Namespace: "b"}),
			plan: plan, want: queue.Limits{Concurrency: 25, NamespaceShares: map[string]int{"a": 3, "b": math.MaxInt32}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := limitsOf(viewOf(tc.obj.(object)), tc.plan, tc.def)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("limitsOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCheckBudgets(t *testing.T) {
	cases := map[string]struct {
		obj       object
		wantValid metav1.ConditionStatus
		wantInMsg []string
	}{
		"no budgets": {obj: &v1alpha1.BrowserbaseProject{}, wantValid: metav1.ConditionTrue},
		"within the plan": {obj: &v1alpha1.BrowserbaseProject{Spec: v1alpha1.BrowserbaseProjectSpec{MaxConcurrentSessions: ptr.To[int32](3)}},
			wantValid: metav1.ConditionTrue},
		"above the plan": {obj: &v1alpha1.BrowserbaseProject{Spec: v1alpha1.BrowserbaseProjectSpec{MaxConcurrentSessions: ptr.To[int32](4)}},
			wantValid: metav1.ConditionFalse, wantInMsg: []string{"spec.maxConcurrentSessions (4)", "at most 3"}},
		"a share above the plan": {obj: clusterProject(v1alpha1.BrowserbaseProjectSpec{},
			v1alpha1.NamespaceShare{Namespace: "team", MaxConcurrentSessions: ptr.To[int32](5)}),
			wantValid: metav1.ConditionFalse, wantInMsg: []string{`namespace "team" (5)`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := &Reconciler{}
			r.checkBudgets(tc.obj, viewOf(tc.obj), browserbase.Project{Concurrency: 3})
			var got *metav1.Condition
			for _, c := range *tc.obj.GetConditions() {
				if c.Type == v1alpha1.ConditionBudgetsValid {
					got = &c
				}
			}
			if got == nil || got.Status != tc.wantValid {
				t.Fatalf("BudgetsValid = %+v, want %s", got, tc.wantValid)
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q does not say %q", got.Message, s)
				}
			}
		})
	}
}
