package podinjector

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/scheme"
)

const (
	testNamespace = "apps"
	testTemplate  = "checkout"
)

// newInjector reads from a fake API server holding objs, and names Secrets <tpl>-<suffix>
// with the suffixes given, in turn (then "zzzzz").
func newInjector(t *testing.T, objs []client.Object, suffixes ...string) *Injector {
	t.Helper()
	s := scheme.New()
	return &Injector{
		Reader:  fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build(),
		Decoder: admission.NewDecoder(s),
		Suffix: func() string {
			if len(suffixes) == 0 {
				return "zzzzz"
			}
			next := suffixes[0]
			suffixes = suffixes[1:]
			return next
		},
	}
}

func template(inj *v1alpha1.Injection) *v1alpha1.BrowserSessionTemplate {
	return &v1alpha1.BrowserSessionTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testTemplate},
		Spec:       v1alpha1.BrowserSessionTemplateSpec{Injection: inj},
	}
}

// pod is a generateName Pod (no name, as a Deployment's are at admission) with an init
// container and two containers, opted in to testTemplate.
func pod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "web-",
			Namespace:    testNamespace,
			Labels:       map[string]string{v1alpha1.LabelSessionTemplate: testTemplate},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "setup", Image: "busybox"}},
			Containers: []corev1.Container{
				{Name: "app", Image: "app"},
				{Name: "sidecar", Image: "proxy"},
			},
		},
	}
}

// admit sends p to i as a Pod CREATE and returns the answer and the Pod with its patch applied.
func admit(t *testing.T, i *Injector, p *corev1.Pod, dryRun bool) (admission.Response, *corev1.Pod) {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create,
		Namespace: testNamespace,
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Object:    runtime.RawExtension{Raw: raw},
		DryRun:    ptr.To(dryRun),
	}}
	resp := i.Handle(context.Background(), req)
	if !resp.Allowed {
		return resp, nil
	}
	ops, err := json.Marshal(resp.Patches)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply(raw)
	if err != nil {
		t.Fatalf("applying %s: %v", ops, err)
	}
	out := &corev1.Pod{}
	if err := json.Unmarshal(patched, out); err != nil {
		t.Fatal(err)
	}
	return resp, out
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
	}}}
}

// defaultEnv are the four variables under their default names, from checkout-abcde.
func defaultEnv() []corev1.EnvVar {
	return []corev1.EnvVar{
		secretEnv("BROWSERBASE_CONNECT_URL", "checkout-abcde", "connectUrl"),
		secretEnv("BROWSERBASE_SESSION_ID", "checkout-abcde", "sessionId"),
		secretEnv("BROWSERBASE_SIGNING_KEY", "checkout-abcde", "signingKey"),
		secretEnv("BROWSERBASE_SELENIUM_REMOTE_URL", "checkout-abcde", "seleniumRemoteUrl"),
	}
}

var (
	sessionVolume = corev1.Volume{Name: "browserbase-session", VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: "checkout-abcde"},
	}}
	defaultMount = corev1.VolumeMount{Name: "browserbase-session", MountPath: "/var/run/secrets/browserbase", ReadOnly: true}
)

// want is what a container (by name) ends up with.
type want struct {
	env    []corev1.EnvVar
	mounts []corev1.VolumeMount
}

func TestInjection(t *testing.T) {
	both := want{env: defaultEnv(), mounts: []corev1.VolumeMount{defaultMount}}
	none := want{}
	tests := []struct {
		name       string
		injection  *v1alpha1.Injection
		edit       func(*corev1.Pod)
		containers map[string]want // setup, app, sidecar
		volume     bool
	}{{
		name:       "defaults: env and volume in every container, not init containers",
		containers: map[string]want{"setup": none, "app": both, "sidecar": both},
		volume:     true,
	}, {
		name:       "env only",
		injection:  &v1alpha1.Injection{Volume: &v1alpha1.VolumeInjection{Disabled: true}},
		containers: map[string]want{"setup": none, "app": {env: defaultEnv()}, "sidecar": {env: defaultEnv()}},
	}, {
		name:      "volume only, at its own path",
		injection: &v1alpha1.Injection{Env: &v1alpha1.EnvInjection{Disabled: true}, Volume: &v1alpha1.VolumeInjection{MountPath: "/creds"}},
		containers: map[string]want{"setup": none,
			"app":     {mounts: []corev1.VolumeMount{{Name: "browserbase-session", MountPath: "/creds", ReadOnly: true}}},
			"sidecar": {mounts: []corev1.VolumeMount{{Name: "browserbase-session", MountPath: "/creds", ReadOnly: true}}}},
		volume: true,
	}, {
		name: "renamed and left-out variables",
		injection: &v1alpha1.Injection{
			Env:    &v1alpha1.EnvInjection{ConnectURL: "CDP_URL", SigningKey: "-", SeleniumRemoteURL: "-"},
			Volume: &v1alpha1.VolumeInjection{Disabled: true},
		},
		containers: map[string]want{"setup": none, "app": {env: []corev1.EnvVar{
			secretEnv("CDP_URL", "checkout-abcde", "connectUrl"),
			secretEnv("BROWSERBASE_SESSION_ID", "checkout-abcde", "sessionId"),
		}}},
		edit: func(p *corev1.Pod) { p.Spec.Containers = p.Spec.Containers[:1] },
	}, {
		name:       "selected containers, an init container among them",
		injection:  &v1alpha1.Injection{Containers: []string{"setup", "sidecar"}},
		containers: map[string]want{"setup": both, "app": none, "sidecar": both},
		volume:     true,
	}, {
		name: "the Pod's own variable of the same name is kept",
		edit: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "BROWSERBASE_SESSION_ID", Value: "mine"}}
		},
		containers: map[string]want{"setup": none, "sidecar": both, "app": {
			env: append([]corev1.EnvVar{{Name: "BROWSERBASE_SESSION_ID", Value: "mine"}},
				defaultEnv()[0], defaultEnv()[2], defaultEnv()[3]),
			mounts: []corev1.VolumeMount{defaultMount},
		}},
		volume: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod()
			if tt.edit != nil {
				tt.edit(p)
			}
			i := newInjector(t, []client.Object{template(tt.injection)}, "abcde")
			resp, got := admit(t, i, p, false)
			if !resp.Allowed {
				t.Fatalf("refused: %s", resp.Result.Message)
			}
			if a := got.Annotations[v1alpha1.AnnotationSessionSecret]; a != "checkout-abcde" {
				t.Errorf("annotation %s = %q, want checkout-abcde", v1alpha1.AnnotationSessionSecret, a)
			}
			for _, c := range append(got.Spec.InitContainers, got.Spec.Containers...) {
				w := tt.containers[c.Name]
				if diff := cmp.Diff(w.env, c.Env); diff != "" {
					t.Errorf("container %s env (-want +got):\n%s", c.Name, diff)
				}
				if diff := cmp.Diff(w.mounts, c.VolumeMounts); diff != "" {
					t.Errorf("container %s mounts (-want +got):\n%s", c.Name, diff)
				}
			}
			var wantVolumes []corev1.Volume
			if tt.volume {
				wantVolumes = []corev1.Volume{sessionVolume}
			}
			if diff := cmp.Diff(wantVolumes, got.Spec.Volumes); diff != "" {
				t.Errorf("volumes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReinvocationAddsNothing(t *testing.T) {
	for _, inj := range []*v1alpha1.Injection{nil, {Containers: []string{"setup"}}, {Volume: &v1alpha1.VolumeInjection{MountPath: "/x"}}} {
		i := newInjector(t, []client.Object{template(inj)}, "abcde", "fghij")
		_, first := admit(t, i, pod(), false)
		resp, second := admit(t, i, first, false)
		if !resp.Allowed || len(resp.Patches) != 0 {
			t.Fatalf("second call: allowed=%v patches=%v, want allowed with no patch", resp.Allowed, resp.Patches)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("second call changed the Pod (-first +second):\n%s", diff)
		}
	}
}

func TestAnnotatedPodKeepsItsSecret(t *testing.T) {
	p := pod()
	p.Annotations = map[string]string{v1alpha1.AnnotationSessionSecret: "chosen"}
	_, got := admit(t, newInjector(t, []client.Object{template(nil)}), p, false)
	if ref := got.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name; ref != "chosen" {
		t.Errorf("env reads Secret %q, want the annotated chosen", ref)
	}
	if a := got.Annotations[v1alpha1.AnnotationSessionSecret]; a != "chosen" {
		t.Errorf("annotation = %q, want chosen", a)
	}
}

func TestDryRunMutatesThePodOnly(t *testing.T) {
	i := newInjector(t, []client.Object{template(nil)}, "abcde", "abcde")
	_, wet := admit(t, i, pod(), false)
	resp, dry := admit(t, i, pod(), true)
	if !resp.Allowed {
		t.Fatalf("dry run refused: %s", resp.Result.Message)
	}
	if diff := cmp.Diff(wet, dry); diff != "" {
		t.Errorf("a dry run mutates differently (-wet +dry):\n%s", diff)
	}
	for _, list := range []client.ObjectList{&corev1.SecretList{}, &v1alpha1.BrowserSessionList{}} {
		if err := i.Reader.(client.Client).List(context.Background(), list); err != nil {
			t.Fatal(err)
		}
		if items, _ := json.Marshal(list); strings.Contains(string(items), "checkout-abcde") {
			t.Errorf("an object named checkout-abcde was written: %s", items)
		}
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name   string
		objs   []client.Object
		edit   func(*corev1.Pod)
		wantIn []string
	}{{
		name:   "unknown template",
		wantIn: []string{`BrowserSessionTemplate "checkout" not found`, `namespace "apps"`},
	}, {
		name:   "unknown container",
		objs:   []client.Object{template(&v1alpha1.Injection{Containers: []string{"app", "browser"}})},
		wantIn: []string{`"browser"`, `"setup", "app", "sidecar"`},
	}, {
		name: "another volume at the mount path",
		objs: []client.Object{template(nil)},
		edit: func(p *corev1.Pod) {
			p.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{{Name: "other", MountPath: "/var/run/secrets/browserbase/"}}
		},
		wantIn: []string{`container "sidecar"`, `volume "other"`, "mountPath"},
	}, {
		name:   "invalid template name",
		edit:   func(p *corev1.Pod) { p.Labels[v1alpha1.LabelSessionTemplate] = "Not_A_Name" },
		wantIn: []string{`"Not_A_Name"`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod()
			if tt.edit != nil {
				tt.edit(p)
			}
			resp, _ := admit(t, newInjector(t, tt.objs), p, false)
			if resp.Allowed {
				t.Fatalf("allowed, want refused")
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(resp.Result.Message, s) {
					t.Errorf("message %q does not contain %s", resp.Result.Message, s)
				}
			}
		})
	}
}

func TestPodWithoutTheLabelIsLeftAlone(t *testing.T) {
	p := pod()
	p.Labels = nil
	resp, got := admit(t, newInjector(t, nil), p, false)
	if !resp.Allowed || len(resp.Patches) != 0 || got.Annotations != nil {
		t.Errorf("allowed=%v patches=%v, want allowed untouched", resp.Allowed, resp.Patches)
	}
}

func TestTakenNamesAreSkipped(t *testing.T) {
	objs := []client.Object{
		template(nil),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "checkout-aaaaa"}},
		&v1alpha1.BrowserSession{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "checkout-bbbbb"}},
	}
	_, got := admit(t, newInjector(t, objs, "aaaaa", "bbbbb", "ccccc"), pod(), false)
	if a := got.Annotations[v1alpha1.AnnotationSessionSecret]; a != "checkout-ccccc" {
		t.Errorf("annotation = %q, want checkout-ccccc (the first free name)", a)
	}
}

func TestSecretNameOfALongTemplate(t *testing.T) {
	for _, tpl := range []string{"a", strings.Repeat("a", 253), strings.Repeat("a", 246) + ".bcdef"} {
		name := secretName(tpl, "xyz12")
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("secretName(%d characters) = %q: %v", len(tpl), name, errs)
		}
		if !strings.HasSuffix(name, "-xyz12") {
			t.Errorf("secretName = %q, want the suffix -xyz12", name)
		}
	}
}
