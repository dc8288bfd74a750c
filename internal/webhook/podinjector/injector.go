package podinjector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// Path is where the webhook server serves the injector; config/webhook/manifests.yaml calls it.
const Path = "/mutate-v1-pod"

// nameAttempts is how many random names are tried before the Pod is refused: each one taken
// has a chance of 1 in 27^5 (about 14 million).
const nameAttempts = 5

// The injector reads templates, and checks that no Secret or BrowserSession has the name it
// picks, each with one GET from the API server.
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessiontemplates,verbs=get
// +kubebuilder:rbac:groups=browserbase.io,resources=browsersessions,verbs=get
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// Injector is the admission.Handler of Pod CREATE. It writes nothing anywhere: its only effect
// is the patch of the Pod it answers with.
type Injector struct {
	// Reader reads from the API server, not a cache: a template made a moment before its Pods
	// must be found (mgr.GetAPIReader()).
	Reader client.Reader
	// Decoder decodes the Pod of the request.
	Decoder admission.Decoder
	// Suffix draws the random part of a new Secret's name; nil: 5 random characters.
	Suffix func() string
}

// NewWebhook is the Injector as the http.Handler the webhook server registers at Path.
func NewWebhook(i *Injector) *admission.Webhook {
	return &admission.Webhook{Handler: i}
}

// Handle answers a Pod CREATE: allowed unchanged for a Pod that is not opted in, patched for
// one that is, refused when its template is missing or cannot serve it.
func (i *Injector) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("only Pod CREATE is mutated")
	}
	pod := &corev1.Pod{}
	if err := i.Decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	tplName, ok := pod.Labels[v1alpha1.LabelSessionTemplate]
	if !ok {
		return admission.Allowed("no " + v1alpha1.LabelSessionTemplate + " label")
	}
	if errs := validation.IsDNS1123Subdomain(tplName); len(errs) > 0 {
		return admission.Denied(fmt.Sprintf("label %s=%q does not name a BrowserSessionTemplate: %s",
			v1alpha1.LabelSessionTemplate, tplName, errs[0]))
	}
	namespace := req.Namespace
	if namespace == "" {
		namespace = pod.Namespace
	}

	tpl := &v1alpha1.BrowserSessionTemplate{}
	if err := i.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: tplName}, tpl); err != nil {
		if apierrors.IsNotFound(err) {
			return admission.Denied(fmt.Sprintf("BrowserSessionTemplate %q not found in namespace %q "+
				"(named by the Pod's label %s); create it first", tplName, namespace, v1alpha1.LabelSessionTemplate))
		}
		return admission.Errored(http.StatusInternalServerError,
			fmt.Errorf("reading BrowserSessionTemplate %s/%s: %w", namespace, tplName, err))
	}

	secret, resp := i.secretFor(ctx, pod, namespace, tplName)
	if secret == "" {
		return resp
	}
	// The patch is the difference between the Pod as decoded and as mutated, both marshalled
	// from the same types: a field of the request this build does not know is never removed.
	original, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if err := mutate(pod, tpl.Spec.Injection, secret); err != nil {
		return admission.Denied(err.Error())
	}
	mutated, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	logf.FromContext(ctx).V(1).Info("Injecting the session Secret", "template", tplName, "secret", secret,
		"dryRun", req.DryRun != nil && *req.DryRun)
	return admission.PatchResponseFromRaw(original, mutated)
}

// secretFor is the name of the Pod's Secret: the one its annotation records (a reinvocation, or
// the Pod's author's choice), or a new one. Without a name, the response is the answer.
func (i *Injector) secretFor(ctx context.Context, pod *corev1.Pod, namespace, tpl string) (string, admission.Response) {
	if name := pod.Annotations[v1alpha1.AnnotationSessionSecret]; name != "" {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return "", admission.Denied(fmt.Sprintf("annotation %s=%q is not a valid Secret name: %s",
				v1alpha1.AnnotationSessionSecret, name, errs[0]))
		}
		return name, admission.Response{}
	}
	suffix := i.Suffix
	if suffix == nil {
		suffix = randomSuffix
	}
	for range nameAttempts {
		name := secretName(tpl, suffix())
		taken, err := i.taken(ctx, namespace, name)
		if err != nil {
			return "", admission.Errored(http.StatusInternalServerError, err)
		}
		if !taken {
			return name, admission.Response{}
		}
	}
	return "", admission.Errored(http.StatusInternalServerError,
		fmt.Errorf("no free name for the session Secret of template %q after %d attempts", tpl, nameAttempts))
}

// taken reports whether a Secret or a BrowserSession of that name exists: the Pod controller
// names both after the annotation, and never takes over another's.
func (i *Injector) taken(ctx context.Context, namespace, name string) (bool, error) {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	// The Secret's metadata only: its data is none of the webhook's business.
	secret := &metav1.PartialObjectMetadata{}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	for _, obj := range []client.Object{secret, &v1alpha1.BrowserSession{}} {
		err := i.Reader.Get(ctx, key, obj)
		switch {
		case err == nil:
			return true, nil
		case !apierrors.IsNotFound(err):
			return false, fmt.Errorf("checking that %s/%s is a free name: %w", namespace, name, err)
		}
	}
	return false, nil
}
