package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
)

// A browser for every Pod, through the real manager binary: the webhook served over TLS with the
// certificate the manager issues itself, the shipped webhook configuration and RBAC.
var _ = Describe("A browser for every Pod", func() {
	var ns string

	BeforeEach(func(ctx SpecContext) {
		ns = fmt.Sprintf("e2e-pods-%d", time.Now().UnixNano()%1_000_000_000)
		kubectl(ctx, "create", "namespace", ns)
		DeferCleanup(func(ctx SpecContext) {
			kubectl(ctx, "delete", "pods", "--all", "-n", ns, "--wait", "--timeout=60s")
			kubectl(ctx, "delete", "browsersessions", "--all", "-n", ns, "--wait", "--timeout=60s")
		})
	})

	pod := func(ctx SpecContext, template string) *corev1.Pod {
		GinkgoHelper()
		manifest := writeManifest(ns+"-pod.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  generateName: worker-
  labels:
    browserbase.io/session-template: %s
spec:
  containers:
    - name: worker
      image: example.invalid/worker:1
    - name: sidecar
      image: example.invalid/sidecar:1
`, template))
		var out string
		Eventually(func(g Gomega) {
			// The webhook is served once the manager has issued its certificate.
			var err error
			out, err = env.Kubectl(ctx, "create", "-n", ns, "-f", manifest, "-o", "json")
			g.Expect(err).NotTo(HaveOccurred())
		}, time.Minute, time.Second).Should(Succeed())
		p := &corev1.Pod{}
		Expect(json.Unmarshal([]byte(out), p)).To(Succeed())
		return p
	}

	It("injects each Pod's own session, and releases it when the Pod ends or goes", func(ctx SpecContext) {
		kubectl(ctx, "apply", "-n", ns, "-f", writeManifest(ns+"-template.yaml", `apiVersion: browserbase.io/v1alpha1
kind: BrowserSessionTemplate
metadata:
  name: scraper
spec:
  template:
    timeout: 600
  injection:
    containers: [worker]
`))
		first := pod(ctx, "scraper")
		second := pod(ctx, "scraper")

		By("mutating the Pod at admission: its own Secret, as variables and files, in the named container only")
		secretName := first.Annotations["browserbase.io/session-secret"]
		Expect(secretName).To(HavePrefix("scraper-"))
		Expect(second.Annotations["browserbase.io/session-secret"]).NotTo(Equal(secretName), "each Pod has a Secret of its own")
		worker := first.Spec.Containers[0]
		vars := map[string]string{}
		for _, v := range worker.Env {
			if v.ValueFrom != nil && v.ValueFrom.SecretKeyRef != nil {
				Expect(v.ValueFrom.SecretKeyRef.Name).To(Equal(secretName))
				vars[v.Name] = v.ValueFrom.SecretKeyRef.Key
			}
		}
		Expect(vars).To(Equal(map[string]string{
			"BROWSERBASE_CONNECT_URL": "connectUrl", "BROWSERBASE_SESSION_ID": "sessionId",
			"BROWSERBASE_SIGNING_KEY": "signingKey", "BROWSERBASE_SELENIUM_REMOTE_URL": "seleniumRemoteUrl",
		}))
		Expect(worker.VolumeMounts).To(ContainElement(HaveField("MountPath", "/var/run/secrets/browserbase")))
		Expect(first.Spec.Containers[1].Env).To(BeEmpty(), "the sidecar is not named in injection.containers")

		By("making the Pod's BrowserSession, which writes the Secret")
		Eventually(func() string {
			out, _ := env.Kubectl(ctx, "get", "-n", ns, "browsersession/"+secretName, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
			return out
		}, time.Minute, time.Second).Should(Equal("True"))
		id := kubectl(ctx, "get", "-n", ns, "browsersession/"+secretName, "-o", "jsonpath={.status.id}")
		Expect(kubectl(ctx, "get", "-n", ns, "secret/"+secretName, "-o", "jsonpath={.data.sessionId}")).NotTo(BeEmpty())
		Expect(kubectl(ctx, "get", "-n", ns, "browsersession/"+secretName, "-o", "jsonpath={.metadata.labels}")).To(ContainSubstring(string(first.UID)))

		By("releasing the session when the Pod succeeds")
		kubectl(ctx, "patch", "-n", ns, "pod/"+first.Name, "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Succeeded"}}`)
		Eventually(func() string {
			out, _ := env.Kubectl(ctx, "get", "-n", ns, "browsersessions", "-o", "name")
			return out
		}, time.Minute, time.Second).ShouldNot(ContainSubstring(secretName))
		Eventually(func() string {
			s, _ := emu.Session(id)
			return s.Status
		}, time.Minute, time.Second).Should(Equal("COMPLETED"))

		By("releasing the other Pod's session when the Pod is deleted")
		secondSecret := second.Annotations["browserbase.io/session-secret"]
		Eventually(func() string {
			out, _ := env.Kubectl(ctx, "get", "-n", ns, "browsersession/"+secondSecret, "-o", "jsonpath={.status.id}")
			return out
		}, time.Minute, time.Second).ShouldNot(BeEmpty())
		kubectl(ctx, "delete", "-n", ns, "pod/"+second.Name, "--wait", "--timeout=60s")
		Eventually(func() string {
			out, _ := env.Kubectl(ctx, "get", "-n", ns, "browsersessions", "-o", "name")
			return out
		}, time.Minute, time.Second).Should(BeEmpty())

		By("counting them on the template")
		Eventually(func() string {
			return kubectl(ctx, "get", "-n", ns, "browsersessiontemplate/scraper", "-o", "jsonpath={.status.sessions.ready}")
		}, time.Minute, time.Second).Should(Equal("0"))
	})

	It("refuses a Pod naming a template that does not exist, and says which", func(ctx SpecContext) {
		manifest := writeManifest(ns+"-orphan.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: lost
  labels:
    browserbase.io/session-template: missing
spec:
  containers:
    - name: worker
      image: example.invalid/worker:1
`)
		Eventually(func() string {
			_, err := env.Kubectl(ctx, "create", "-n", ns, "-f", manifest)
			if err == nil {
				return ""
			}
			return err.Error()
		}, time.Minute, time.Second).Should(And(ContainSubstring("missing"), ContainSubstring(ns)))
		out, _ := env.Kubectl(ctx, "get", "-n", ns, "pods", "-o", "name")
		Expect(strings.TrimSpace(out)).To(BeEmpty())
	})
})
