package controllertest

import (
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// SuiteDefaults sends controller-runtime's logs to Ginkgo's writer (shown for failed specs) and
// sets the waits of gomega.Eventually and Consistently the suites share.
func SuiteDefaults() {
	logf.SetLogger(zap.New(zap.WriteTo(ginkgo.GinkgoWriter), zap.UseDevMode(true)))
	gomega.SetDefaultEventuallyTimeout(30 * time.Second)
	gomega.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	gomega.SetDefaultConsistentlyDuration(3 * time.Second)
	gomega.SetDefaultConsistentlyPollingInterval(200 * time.Millisecond)
}

// Namespace creates a namespace for one spec, named from prefix. When the spec ends, the
// objects of each kind in lists (BrowserSessionList, …) are deleted from it, in order, each
// waited for until gone: envtest runs no namespace controller, and nothing of one spec may keep
// calling the emulator during the next.
func Namespace(ctx ginkgo.SpecContext, c client.Client, prefix string, lists ...client.ObjectList) string {
	ginkgo.GinkgoHelper()
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	gomega.Expect(c.Create(ctx, namespace)).To(gomega.Succeed())
	ginkgo.DeferCleanup(func(ctx ginkgo.SpecContext) {
		for _, list := range lists {
			item, err := itemOf(c, list)
			gomega.Expect(err).NotTo(gomega.HaveOccurred())
			gomega.Expect(c.DeleteAllOf(ctx, item, client.InNamespace(namespace.Name))).To(gomega.Succeed())
			gomega.Eventually(func(g gomega.Gomega) {
				g.Expect(c.List(ctx, list, client.InNamespace(namespace.Name))).To(gomega.Succeed())
				g.Expect(meta.LenList(list)).To(gomega.BeZero())
			}).Should(gomega.Succeed())
		}
	})
	return namespace.Name
}

// itemOf is an empty object of the kind list holds, from the client's scheme.
func itemOf(c client.Client, list client.ObjectList) (client.Object, error) {
	gvk, err := c.GroupVersionKindFor(list)
	if err != nil {
		return nil, err
	}
	gvk.Kind = gvk.Kind[:len(gvk.Kind)-len("List")]
	obj, err := c.Scheme().New(gvk)
	if err != nil {
		return nil, err
	}
	return obj.(client.Object), nil
}
