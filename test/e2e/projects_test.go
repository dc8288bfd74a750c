package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/browserbase/session-operator/internal/emulator"
)

// BrowserbaseProjects and ClusterBrowserbaseProjects through the real manager: a key Secret
// noticed by its watch, a key rotated without a restart, the default cluster project, what the
// API server refuses, and a project kept while sessions need its key to be released.
var _ = Describe("Browserbase projects", func() {
	var ns string

	BeforeEach(func(ctx SpecContext) {
		ns = fmt.Sprintf("e2e-proj-%d", time.Now().UnixNano()%1_000_000_000)
		kubectl(ctx, "create", "namespace", ns)
		DeferCleanup(func(ctx SpecContext) {
			// Sessions first: a project is kept while sessions name it.
			kubectl(ctx, "delete", "browsersessions", "--all", "-n", ns, "--wait", "--timeout=60s")
			kubectl(ctx, "delete", "browserbaseprojects", "--all", "-n", ns, "--wait", "--timeout=60s")
		})
	})

	// get reads a field with kubectl; "" while the object or the field is missing, for Eventually.
	get := func(ctx SpecContext, resource, path string, namespaced bool) string {
		args := []string{"get", resource, "-o", "jsonpath=" + path}
		if namespaced {
			args = append(args, "-n", ns)
		}
		out, err := env.Kubectl(ctx, args...)
		if err != nil {
			return ""
		}
		return out
	}
	field := func(ctx SpecContext, resource, path string) func() string {
		return func() string { return get(ctx, resource, path, true) }
	}
	condition := func(typ, what string) string {
		return fmt.Sprintf(`{.status.conditions[?(@.type=="%s")].%s}`, typ, what)
	}
	apply := func(ctx SpecContext, name, yaml string) {
		GinkgoHelper()
		kubectl(ctx, "apply", "-n", ns, "-f", writeManifest(ns+"-"+name+".yaml", yaml))
	}
	keySecret := func(ctx SpecContext, namespace, name, key string) {
		GinkgoHelper()
		kubectl(ctx, "create", "secret", "generic", name, "-n", namespace, "--from-literal=apiKey="+key)
	}
	projectYAML := func(name, secret, extraSpec string) string {
		return fmt.Sprintf(`apiVersion: browserbase.io/v1alpha1
kind: BrowserbaseProject
metadata:
  name: %s
spec:
  apiKeySecretRef:
    name: %s
%s`, name, secret, extraSpec)
	}
	sessionYAML := func(name, extraSpec string) string {
		return fmt.Sprintf(`apiVersion: browserbase.io/v1alpha1
kind: BrowserSession
metadata:
  name: %s
spec:
  timeout: 600
%s`, name, extraSpec)
	}
	namingProject := func(project string) string { return "  projectRef:\n    name: " + project + "\n" }
	// emulatorSession is the Browserbase session of a Ready BrowserSession.
	emulatorSession := func(ctx SpecContext, name string) emulator.Session {
		GinkgoHelper()
		id := get(ctx, "browsersession/"+name, "{.status.id}", true)
		Expect(id).NotTo(BeEmpty(), "browsersession/%s has no session id", name)
		sess, ok := emu.Session(id)
		Expect(ok).To(BeTrue(), "the emulator has no session %s", id)
		return sess
	}
	// taggedSessions counts the emulator's sessions made for the BrowserSession namespace/name.
	taggedSessions := func(namespace, name string) int {
		n := 0
		for _, s := range emu.Sessions() {
			if tag, ok := s.UserMetadata["k8s"].(map[string]any); ok && tag["namespace"] == namespace && tag["name"] == name {
				n++
			}
		}
		return n
	}
	creates := func() int {
		return emu.CountRequests(http.MethodPost, "/v1/sessions") - emu.CountRequests(http.MethodPost, "/v1/sessions/")
	}

	It("goes Ready within seconds of its key Secret appearing, through the Secret's watch", func(ctx SpecContext) {
		// Were the recheck of a missing Secret as short as the wait below, it would pass without
		// the watch.
		recheck, err := time.ParseDuration(managerFlag("credentials-recheck-interval"))
		Expect(err).NotTo(HaveOccurred())
		Expect(recheck).To(BeNumerically(">=", time.Minute), "the suite's --credentials-recheck-interval must not hide the Secret watch")

		apply(ctx, "late", projectYAML("late", "late-key", "  maxConcurrentSessions: 20\n"))
		Eventually(field(ctx, "browserbaseproject/late", condition("Ready", "reason"))).Should(Equal("CredentialsMissing"))
		Expect(get(ctx, "browserbaseproject/late", condition("Ready", "status"), true)).To(Equal("False"))
		Expect(get(ctx, "browserbaseproject/late", condition("Ready", "message"), true)).To(And(
			ContainSubstring(`Secret "late-key" not found in namespace "`+ns+`"`), ContainSubstring("kubectl create secret generic late-key")))

		By("creating the Secret: Ready long before the recheck")
		keySecret(ctx, ns, "late-key", projectAKey)
		Eventually(field(ctx, "browserbaseproject/late", condition("Ready", "status"))).WithTimeout(15 * time.Second).Should(Equal("True"))
		Expect(get(ctx, "browserbaseproject/late", condition("Ready", "reason"), true)).To(Equal("ProjectReady"))

		By("showing what Browserbase reports of the key's project")
		Expect(get(ctx, "browserbaseproject/late", "{.status.projectId}", true)).To(Equal(projectA.ID))
		Expect(get(ctx, "browserbaseproject/late", "{.status.projectName}", true)).To(Equal(projectA.Name))
		Expect(get(ctx, "browserbaseproject/late", "{.status.concurrency}", true)).To(Equal(fmt.Sprint(projectA.Concurrency)))
		Expect(get(ctx, "browserbaseproject/late", "{.status.defaultTimeout}", true)).To(Equal(fmt.Sprint(projectA.DefaultTimeout)))

		By("saying that the budget above the plan's concurrency does not apply")
		Expect(get(ctx, "browserbaseproject/late", condition("BudgetsValid", "status"), true)).To(Equal("False"))
		Expect(get(ctx, "browserbaseproject/late", condition("BudgetsValid", "reason"), true)).To(Equal("BudgetAbovePlan"))
		Expect(get(ctx, "browserbaseproject/late", condition("BudgetsValid", "message"), true)).To(
			ContainSubstring(fmt.Sprintf("spec.maxConcurrentSessions (20) is above the plan's concurrency (%d)", projectA.Concurrency)))
	})

	It("follows a rotated key within seconds, without a restart, and refuses a key of another project while sessions live in the old one", func(ctx SpecContext) {
		keySecret(ctx, ns, "rotating-key", projectAKey)
		apply(ctx, "rotating", projectYAML("rotating", "rotating-key", "  sessionDefaults:\n    region: eu-central-1\n"))
		kubectl(ctx, "wait", "-n", ns, "browserbaseproject/rotating", "--for=condition=Ready", "--timeout=60s")
		Expect(get(ctx, "browserbaseproject/rotating", "{.status.projectId}", true)).To(Equal(projectA.ID))
		pid := env.Manager().PID()

		apply(ctx, "before", sessionYAML("before", namingProject("rotating")))
		kubectl(ctx, "wait", "-n", ns, "browsersession/before", "--for=condition=Ready", "--timeout=60s")
		before := emulatorSession(ctx, "before")
		Expect(before.ProjectID).To(Equal(projectA.ID), "the session is made with the project's key")
		Expect(before.Region).To(Equal("eu-central-1"), "the project's session defaults reach Browserbase")

		setKey := func(key string) {
			GinkgoHelper()
			patch := fmt.Sprintf(`{"data":{"apiKey":%q}}`, base64.StdEncoding.EncodeToString([]byte(key)))
			kubectl(ctx, "patch", "-n", ns, "secret/rotating-key", "--type=merge", "-p", patch)
		}
		By("rotating the key within the project, then revoking the old one")
		// A new key is checked with Browserbase (a project read) before the project publishes it,
		// in the same pass: once that read is seen, the old key can go.
		projectReads := func() int { return emu.CountRequests(http.MethodGet, "/v1/projects") }
		readsBefore := projectReads()
		setKey(projectARotatedKey)
		Eventually(projectReads).WithTimeout(15 * time.Second).Should(BeNumerically(">", readsBefore))
		// The new key is in use once the revoked one is refused and nothing breaks: the session
		// made with the old key is still read (and will be released) with the new one.
		emu.RemoveKey(projectAKey)
		DeferCleanup(func() { emu.AddKey(projectAKey, projectA) })
		apply(ctx, "after", sessionYAML("after", namingProject("rotating")))
		kubectl(ctx, "wait", "-n", ns, "browsersession/after", "--for=condition=Ready", "--timeout=60s")
		after := emulatorSession(ctx, "after")
		Expect(after.ProjectID).To(Equal(projectA.ID))
		Consistently(field(ctx, "browsersession/before", condition("Ready", "status"))).WithTimeout(5 * time.Second).Should(Equal("True"))
		Expect(get(ctx, "browserbaseproject/rotating", condition("Ready", "status"), true)).To(Equal("True"))
		Expect(env.Manager().PID()).To(Equal(pid), "the manager was not restarted")

		By("putting the key of another project in the Secret while sessions live in project A")
		setKey(projectBKey)
		Eventually(field(ctx, "browserbaseproject/rotating", condition("Stalled", "reason"))).WithTimeout(15 * time.Second).Should(Equal("ProjectChanged"))
		Expect(get(ctx, "browserbaseproject/rotating", condition("Stalled", "message"), true)).To(ContainSubstring("put project " + projectA.ID + "'s key back"))
		Expect(get(ctx, "browserbaseproject/rotating", "{.status.projectId}", true)).To(Equal(projectA.ID))
		Consistently(field(ctx, "browsersession/after", condition("Ready", "status"))).WithTimeout(5*time.Second).Should(Equal("True"),
			"running sessions keep the key that made them")

		By("deleting the sessions: released with project A's key, then the project takes project B's")
		kubectl(ctx, "delete", "-n", ns, "browsersession/before", "browsersession/after", "--wait", "--timeout=60s")
		for _, id := range []string{before.ID, after.ID} {
			sess, _ := emu.Session(id)
			Expect(sess.Status).To(Equal("COMPLETED"), "session %s released", id)
		}
		Eventually(field(ctx, "browserbaseproject/rotating", "{.status.projectId}")).WithTimeout(60 * time.Second).Should(Equal(projectB.ID))
		Expect(get(ctx, "browserbaseproject/rotating", "{.status.concurrency}", true)).To(Equal(fmt.Sprint(projectB.Concurrency)))
		Expect(env.Manager().PID()).To(Equal(pid), "the manager was not restarted")
	})

	It("serves sessions that name no project and no key from the default cluster project, within its namespace shares", func(ctx SpecContext) {
		name := "e2e-default-" + ns
		other := ns + "-other"
		kubectl(ctx, "create", "namespace", other)
		keySecret(ctx, ns, "shared-key", clusterProjectKey)
		DeferCleanup(func(ctx SpecContext) {
			// The default project is kept while any session names no project and no key.
			for _, n := range []string{ns, other} {
				kubectl(ctx, "delete", "browsersessions", "--all", "-n", n, "--wait", "--timeout=60s")
			}
			kubectl(ctx, "delete", "clusterbrowserbaseproject/"+name, "--wait", "--timeout=60s")
		})
		kubectl(ctx, "apply", "-f", writeManifest(name+".yaml", fmt.Sprintf(`apiVersion: browserbase.io/v1alpha1
kind: ClusterBrowserbaseProject
metadata:
  name: %s
  annotations:
    browserbase.io/default-project: "true"
spec:
  apiKeySecretRef:
    name: shared-key
    namespace: %s
  namespaceShares:
  - namespace: %s
    maxConcurrentSessions: 2
`, name, ns, ns)))
		kubectl(ctx, "wait", "clusterbrowserbaseproject/"+name, "--for=condition=Ready", "--timeout=60s")

		apply(ctx, "unnamed", sessionYAML("unnamed", ""))
		kubectl(ctx, "wait", "-n", ns, "browsersession/unnamed", "--for=condition=Ready", "--timeout=60s")
		Expect(emulatorSession(ctx, "unnamed").ProjectID).To(Equal(clusterProject.ID),
			"made with the default project's key, not the operator's BROWSERBASE_API_KEY")

		By("showing the project in kubectl get")
		Eventually(func() string { return kubectl(ctx, "get", "clusterbrowserbaseproject/"+name) }).Should(MatchRegexp(
			`NAME\s+READY\s+PROJECT\s+CONCURRENCY\s+RUNNING\s+WAITING\s+AGE\s+%s\s+True\s+%s\s+%d\s+1\s+0\s+\S+`,
			name, clusterProject.ID, clusterProject.Concurrency))
		Expect(kubectl(ctx, "get", "cbbp")).To(ContainSubstring(name), "the short name")

		By("refusing a namespace the shares leave out")
		kubectl(ctx, "apply", "-n", other, "-f", writeManifest(other+"-unnamed.yaml", sessionYAML("unnamed", "")))
		Eventually(func() string {
			out, _ := env.Kubectl(ctx, "get", "-n", other, "browsersession/unnamed", "-o", "jsonpath="+condition("Stalled", "reason"))
			return out
		}).Should(Equal("NamespaceNotAllowed"))
		Expect(taggedSessions(other, "unnamed")).To(BeZero())
	})

	It("refuses what cannot work: a missing project waits without a create, and the API server rejects contradictory specs", func(ctx SpecContext) {
		createsBefore := creates()
		apply(ctx, "lost", sessionYAML("lost", namingProject("nowhere")))
		Eventually(field(ctx, "browsersession/lost", condition("Reconciling", "reason"))).Should(Equal("ProjectNotFound"))
		Expect(get(ctx, "browsersession/lost", condition("Ready", "status"), true)).To(Equal("False"))
		Expect(get(ctx, "browsersession/lost", condition("Reconciling", "message"), true)).To(ContainSubstring(`"nowhere"`))
		Consistently(creates, 5*time.Second, 500*time.Millisecond).Should(Equal(createsBefore), "no create without the project's key")
		Expect(taggedSessions(ns, "lost")).To(BeZero())

		By("rejecting at admission, with the CRD's message")
		for what, c := range map[string]struct{ yaml, message string }{
			"a session with both a key and a project": {
				yaml:    sessionYAML("both", namingProject("p")+"  apiKeySecretRef:\n    name: k\n"),
				message: "set at most one of apiKeySecretRef and projectRef",
			},
			"a namespaced project naming the Secret's namespace": {
				yaml:    projectYAML("elsewhere", "k", "    namespace: kube-system\n"),
				message: "spec.apiKeySecretRef.namespace is not allowed on a BrowserbaseProject",
			},
			"a cluster project not naming it": {
				yaml: `apiVersion: browserbase.io/v1alpha1
kind: ClusterBrowserbaseProject
metadata:
  name: e2e-nowhere
spec:
  apiKeySecretRef:
    name: k
`,
				message: "spec.apiKeySecretRef.namespace is required on a ClusterBrowserbaseProject",
			},
			"a project defaulting a context": {
				yaml:    projectYAML("with-context", "k", "  sessionDefaults:\n    browserSettings:\n      context:\n        name: profile\n"),
				message: "sessionDefaults.browserSettings.context is not allowed",
			},
		} {
			path := writeManifest(ns+"-invalid.yaml", c.yaml)
			_, err := env.Kubectl(ctx, "create", "-n", ns, "-f", path)
			Expect(err).To(MatchError(ContainSubstring(c.message)), what)
		}
		Expect(kubectl(ctx, "get", "-n", ns, "browsersessions,browserbaseprojects", "-o", "name")).To(Equal("browsersession.browserbase.io/lost\n"))
		_, err := env.Kubectl(ctx, "get", "clusterbrowserbaseproject/e2e-nowhere")
		Expect(err).To(MatchError(ContainSubstring("NotFound")))
	})

	It("keeps a deleted project while a session names it, then releases the session with its key and goes", func(ctx SpecContext) {
		keySecret(ctx, ns, "doomed-key", projectAKey)
		apply(ctx, "doomed", projectYAML("doomed", "doomed-key", ""))
		kubectl(ctx, "wait", "-n", ns, "browserbaseproject/doomed", "--for=condition=Ready", "--timeout=60s")
		apply(ctx, "user", sessionYAML("user", namingProject("doomed")))
		kubectl(ctx, "wait", "-n", ns, "browsersession/user", "--for=condition=Ready", "--timeout=60s")
		sess := emulatorSession(ctx, "user")
		Expect(sess.ProjectID).To(Equal(projectA.ID))

		By("deleting the project first: it waits for the session")
		kubectl(ctx, "delete", "-n", ns, "browserbaseproject/doomed", "--wait=false")
		Eventually(field(ctx, "browserbaseproject/doomed", condition("Reconciling", "reason"))).Should(Equal("ProjectInUse"))
		Expect(get(ctx, "browserbaseproject/doomed", condition("Reconciling", "message"), true)).To(ContainSubstring(ns + "/user"))
		Expect(get(ctx, "browsersession/user", condition("Ready", "status"), true)).To(Equal("True"))
		s, _ := emu.Session(sess.ID)
		Expect(s.Status).To(Equal("RUNNING"))

		By("deleting the session: released with the project's key, then the project goes")
		kubectl(ctx, "delete", "-n", ns, "browsersession/user", "--wait", "--timeout=60s")
		s, _ = emu.Session(sess.ID)
		Expect(s.Status).To(Equal("COMPLETED"))
		released := 0
		for _, r := range emu.Requests() {
			if r.Method == http.MethodPost && r.Path == "/v1/sessions/"+sess.ID && r.Status == http.StatusOK {
				released++
				Expect(r.ProjectID).To(Equal(projectA.ID))
			}
		}
		Expect(released).To(Equal(1))
		kubectl(ctx, "wait", "-n", ns, "browserbaseproject/doomed", "--for=delete", "--timeout=60s")
	})
})

// managerFlag is the value the suite passes to the manager for --name ("" when it passes none).
func managerFlag(name string) string {
	for _, arg := range managerArgs {
		if v, ok := strings.CutPrefix(arg, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}
