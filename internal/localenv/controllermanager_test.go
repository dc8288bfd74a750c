package localenv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestControllerManager runs a local environment with kube-controller-manager, when the
// control-plane binaries are there (KUBEBUILDER_ASSETS=$(hack/envtest-binaries.sh)).
func TestControllerManager(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "localenv with kube-controller-manager")
}

var _ = Describe("A local environment with kube-controller-manager", Ordered, func() {
	var (
		env *Env
		k8s client.Client
	)

	BeforeAll(func(ctx SpecContext) {
		assets := os.Getenv("KUBEBUILDER_ASSETS")
		if assets == "" {
			Skip("KUBEBUILDER_ASSETS is not set: run with KUBEBUILDER_ASSETS=$(hack/envtest-binaries.sh)")
		}
		if _, err := os.Stat(filepath.Join(assets, controllerManagerBinary)); err != nil {
			Skip("no kube-controller-manager in KUBEBUILDER_ASSETS: run hack/envtest-binaries.sh to build it")
		}
		SetDefaultEventuallyTimeout(2 * time.Minute)
		SetDefaultEventuallyPollingInterval(250 * time.Millisecond)

		repo, err := filepath.Abs(filepath.Join("..", ".."))
		Expect(err).NotTo(HaveOccurred())
		workDir := GinkgoT().TempDir()
		env, err = Start(ctx, Options{
			RepoRoot: repo, AssetsDir: assets, WorkDir: workDir,
			ManagerOutput: GinkgoWriter, ControllerManager: true,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(env.Stop()).To(Succeed())
		})
		k8s, err = client.New(env.AdminConfig, client.Options{})
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(5*time.Minute))

	It("makes a Deployment's ReplicaSet and Pods, which stay Pending without a kubelet", func(ctx SpecContext) {
		labels := map[string]string{"app": "kcm-test"}
		deploy := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "kcm-test", Namespace: metav1.NamespaceDefault},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
				},
			},
		}
		Expect(k8s.Create(ctx, deploy)).To(Succeed())

		pods := &corev1.PodList{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.List(ctx, pods, client.InNamespace(metav1.NamespaceDefault), client.MatchingLabels(labels))).To(Succeed())
			g.Expect(pods.Items).To(HaveLen(2))
		}).WithContext(ctx).Should(Succeed())
		for _, pod := range pods.Items {
			owner := metav1.GetControllerOf(&pod)
			Expect(owner).NotTo(BeNil(), "pod %s has no controller", pod.Name)
			Expect(owner.Kind).To(Equal("ReplicaSet"))
			rs := &appsv1.ReplicaSet{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: owner.Name}, rs)).To(Succeed())
			Expect(metav1.IsControlledBy(rs, deploy)).To(BeTrue(), "ReplicaSet %s is not the Deployment's", rs.Name)
			Expect(pod.Status.Phase).To(Equal(corev1.PodPending))
		}
	}, SpecTimeout(3*time.Minute))

	It("garbage-collects what a deleted object owned", func(ctx SpecContext) {
		owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kcm-owner", Namespace: metav1.NamespaceDefault}}
		Expect(k8s.Create(ctx, owner)).To(Succeed())
		dependent := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: "kcm-dependent", Namespace: metav1.NamespaceDefault,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}},
		}}
		Expect(k8s.Create(ctx, dependent)).To(Succeed())

		Expect(k8s.Delete(ctx, owner)).To(Succeed())
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKeyFromObject(dependent), &corev1.ConfigMap{})
		}).WithContext(ctx).Should(Satisfy(apierrors.IsNotFound))
	}, SpecTimeout(3*time.Minute))

	It("deletes a deleted BrowserSession's Secret with it", func(ctx SpecContext) {
		session := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "browserbase.io/v1alpha1", "kind": "BrowserSession",
			"metadata": map[string]any{"name": "kcm-session", "namespace": metav1.NamespaceDefault},
			"spec":     map[string]any{},
		}}
		Expect(k8s.Create(ctx, session)).To(Succeed())
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Name: "kcm-session-browserbase", Namespace: metav1.NamespaceDefault,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "browserbase.io/v1alpha1", Kind: "BrowserSession", Name: session.GetName(), UID: session.GetUID(),
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		}}
		Expect(k8s.Create(ctx, secret)).To(Succeed())

		Expect(k8s.Delete(ctx, session)).To(Succeed())
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKeyFromObject(secret), &corev1.Secret{})
		}).WithContext(ctx).Should(Satisfy(apierrors.IsNotFound))
	}, SpecTimeout(3*time.Minute))
})

// Without the binary, Start says how to build it, before it starts anything.
func TestStartWithoutControllerManagerBinary(t *testing.T) {
	_, err := Start(context.Background(), Options{AssetsDir: t.TempDir(), WorkDir: t.TempDir(), ControllerManager: true})
	if err == nil || !strings.Contains(err.Error(), "hack/envtest-binaries.sh") {
		t.Fatalf("Start without kube-controller-manager = %v, want an error naming hack/envtest-binaries.sh", err)
	}
}
