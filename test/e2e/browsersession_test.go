package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/browserbase/session-operator/internal/emulator"
)

var _ = Describe("The operator, as users run it", func() {
	var ns string

	BeforeEach(func(ctx SpecContext) {
		ns = fmt.Sprintf("e2e-%d", time.Now().UnixNano()%1_000_000_000)
		kubectl(ctx, "create", "namespace", ns)
		DeferCleanup(func(ctx SpecContext) {
			kubectl(ctx, "delete", "browsersessions", "--all", "-n", ns, "--wait", "--timeout=60s")
		})
	})

	jsonpath := func(ctx SpecContext, resource, path string) string {
		return kubectl(ctx, "get", "-n", ns, resource, "-o", "jsonpath="+path)
	}
	sessionByID := func(id string) emulator.Session {
		GinkgoHelper()
		sess, ok := emu.Session(id)
		Expect(ok).To(BeTrue(), "the emulator has no session %s", id)
		return sess
	}
	count := func(method, path string, status int) int {
		n := 0
		for _, r := range emu.Requests() {
			if r.Method == method && r.Path == path && r.Status == status {
				n++
			}
		}
		return n
	}
	sessionManifest := func(name, extraSpec string) string {
		return writeManifest(ns+"-"+name+".yaml", fmt.Sprintf(`apiVersion: browserbase.io/v1alpha1
kind: BrowserSession
metadata:
  name: %s
spec:
  timeout: 600
%s`, name, extraSpec))
	}

	It("runs the sample: Ready via kubectl, credentials in the Secret for a workload, released on delete", func(ctx SpecContext) {
		sample := repo + "/config/samples/browserbase_v1alpha1_browsersession.yaml"
		kubectl(ctx, "apply", "-n", ns, "-f", sample)
		kubectl(ctx, "wait", "-n", ns, "browsersession/example", "--for=condition=Ready", "--timeout=60s")

		id := jsonpath(ctx, "browsersession/example", "{.status.id}")
		sess := sessionByID(id)
		Expect(sess.Region).To(Equal("us-east-1"), "the sample's region reaches Browserbase")
		Expect(jsonpath(ctx, "browsersession/example", "{.status.status}")).To(Equal("RUNNING"))
		Expect(jsonpath(ctx, "browsersession/example", "{.status.connectUrl}")).To(Equal("wss://connect.use1.browserbase.com/"))
		Expect(jsonpath(ctx, "browsersession/example", "{.status.revision}")).To(Equal("1"))

		By("holding the credentials in the Secret, under keys envFrom accepts")
		raw := jsonpath(ctx, "secret/example-browserbase", "{.data}")
		data := map[string]string{}
		Expect(json.Unmarshal([]byte(raw), &data)).To(Succeed())
		Expect(data).To(HaveLen(5))
		envVar := regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
		workloadEnv := []string{"PATH=/usr/bin:/bin"}
		for _, key := range []string{"sessionId", "connectUrl", "seleniumRemoteUrl", "signingKey", "expiresAt"} {
			Expect(data).To(HaveKey(key))
			Expect(envVar.MatchString(key)).To(BeTrue())
			value, err := base64.StdEncoding.DecodeString(data[key])
			Expect(err).NotTo(HaveOccurred())
			workloadEnv = append(workloadEnv, key+"="+string(value))
		}

		By("letting a workload connect with it, as a Pod with envFrom would")
		workload := exec.CommandContext(ctx, "sh", "-c", `printf '%s' "$connectUrl"`)
		workload.Env = workloadEnv
		out, err := workload.Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).To(Equal(sess.ConnectURL))
		Expect(string(out)).To(ContainSubstring("signingKey=" + sess.SigningKey))

		By("explaining itself in kubectl get and describe")
		Expect(kubectl(ctx, "get", "-n", ns, "browsersession/example", "-o", "wide")).To(MatchRegexp(
			`NAME\s+STATUS\s+READY\s+REGION\s+EXPIRES\s+REVISION\s+RENEWS\s+AGE\s+ID\s+QUEUE\s+example\s+RUNNING\s+True\s+us-east-1\s+\S+\s+1\s+\S+\s+` + id + `\s*$`))
		Eventually(func() string { return kubectl(ctx, "describe", "-n", ns, "browsersession/example") }).Should(And(
			ContainSubstring("SessionRunning"), ContainSubstring("SessionCreated"), Not(ContainSubstring(sess.SigningKey))))

		By("counting it in the manager's metrics")
		scrape := func() string {
			resp, err := http.Get(env.Manager().MetricsURL)
			Expect(err).NotTo(HaveOccurred())
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			Expect(err).NotTo(HaveOccurred())
			return string(body)
		}
		Eventually(scrape).Should(And(
			MatchRegexp(`browserbase_api_requests_total\{code="201",endpoint="create"\} [1-9]`),
			MatchRegexp(`browserbase_sessions_created_total [1-9]`),
			MatchRegexp(`browserbase_api_request_duration_seconds_count\{endpoint="create"\} [1-9]`),
			MatchRegexp(`browserbase_browsersessions\{ready="True",status="RUNNING"\} [1-9]`),
		))
		Expect(scrape()).NotTo(ContainSubstring(sess.SigningKey))

		By("releasing the session on delete")
		kubectl(ctx, "delete", "-n", ns, "browsersession/example", "--wait", "--timeout=60s")
		Expect(sessionByID(id).Status).To(Equal("COMPLETED"))
		Expect(count(http.MethodPost, "/v1/sessions/"+id, http.StatusOK)).To(Equal(1))
	})

	It("accepts every sample manifest and workload at admission, and explains every field", func(ctx SpecContext) {
		out := kubectl(ctx, "apply", "-n", ns, "--dry-run=server", "-k", repo+"/config/samples")
		Expect(strings.Count(out, "created (server dry run)")).To(Equal(10), out)
		Expect(out).To(And(ContainSubstring("browserbaseproject.browserbase.io/scraping created"),
			ContainSubstring("clusterbrowserbaseproject.browserbase.io/shared created"),
			ContainSubstring("browsersession.browserbase.io/scraping-job created")), out)
		out = kubectl(ctx, "apply", "-n", ns, "--dry-run=server", "-f", repo+"/config/samples/workloads")
		Expect(strings.Count(out, "created (server dry run)")).To(Equal(3), out)
		out = kubectl(ctx, "apply", "-n", ns, "--dry-run=server", "-k", repo+"/config/samples/gitops")
		Expect(strings.Count(out, "created (server dry run)")).To(Equal(3), out)

		explained := kubectl(ctx, "explain", "browsersession.spec", "--recursive")
		for _, field := range []string{"projectId", "region", "timeout", "keepAlive", "metadata", "extensionId", "browserSettings",
			"proxies", "apiKeySecretRef", "projectRef", "secretName", "deletionPolicy", "passwordSecretRef", "geolocation", "allowedDomains"} {
			Expect(explained).To(ContainSubstring(field))
		}
		Expect(kubectl(ctx, "explain", "browsersession.spec.timeout")).To(ContainSubstring("lifetime in seconds, from 60 to 21600"))
		Expect(kubectl(ctx, "explain", "browsersession.status.connectUrl")).To(ContainSubstring("with every credential removed"))
		explained = kubectl(ctx, "explain", "browsersession.spec.renewal", "--recursive")
		for _, field := range []string{"policy", "renewBefore", "overlap", "restartTargets"} {
			Expect(explained).To(ContainSubstring(field))
		}
		explained = kubectl(ctx, "explain", "browsersession.status", "--recursive")
		for _, field := range []string{"revision", "renewalTime", "lastRotationTime", "previousId"} {
			Expect(explained).To(ContainSubstring(field))
		}
		Expect(kubectl(ctx, "explain", "browsersession.spec.browserSettings.context.name")).To(ContainSubstring("BrowserContext in this namespace"))
		explained = kubectl(ctx, "explain", "browsercontext", "--recursive")
		for _, field := range []string{"projectId", "apiKeySecretRef", "secretName", "deletionPolicy", "redactedId"} {
			Expect(explained).To(ContainSubstring(field))
		}
		explained = kubectl(ctx, "explain", "clusterbrowserbaseproject", "--recursive")
		for _, field := range []string{"apiKeySecretRef", "projectId", "baseURL", "sessionDefaults", "maxConcurrentSessions",
			"maxCreatesPerMinute", "namespaceShares", "concurrency", "defaultTimeout", "sessionsRunning", "sessionsWaiting"} {
			Expect(explained).To(ContainSubstring(field))
		}
		Expect(kubectl(ctx, "explain", "browserbaseproject.spec.apiKeySecretRef.namespace")).To(ContainSubstring("required on a ClusterBrowserbaseProject"))
		Expect(kubectl(ctx, "explain", "browsersession.status", "--recursive")).To(And(ContainSubstring("queuePosition"), ContainSubstring("queueEstimate")))
	})

	It("waits out 429s without a request storm, and goes Ready when a slot frees", func(ctx SpecContext) {
		kubectl(ctx, "create", "secret", "generic", "limited", "-n", ns, "--from-literal=apiKey="+limitedKey)
		withLimitedKey := "  apiKeySecretRef:\n    name: limited\n"
		kubectl(ctx, "apply", "-n", ns, "-f", sessionManifest("first", withLimitedKey))
		kubectl(ctx, "wait", "-n", ns, "browsersession/first", "--for=condition=Ready", "--timeout=60s")

		rejectedBefore := count(http.MethodPost, "/v1/sessions", http.StatusTooManyRequests)
		start := time.Now()
		kubectl(ctx, "apply", "-n", ns, "-f", sessionManifest("second", withLimitedKey))
		kubectl(ctx, "wait", "-n", ns, "browsersession/second", "--for=jsonpath={.status.conditions[?(@.type==\"Reconciling\")].reason}=ConcurrencyLimitReached", "--timeout=60s")
		Expect(jsonpath(ctx, "browsersession/second", `{.status.conditions[?(@.type=="Stalled")]}`)).To(BeEmpty(), "a rate limit is not a failure")
		rejected := func() int { return count(http.MethodPost, "/v1/sessions", http.StatusTooManyRequests) - rejectedBefore }
		// Retry-After is 2 s: at most one attempt per window, plus the first.
		Consistently(func() int { return rejected() - int(time.Since(start)/(2*time.Second)) }, 6*time.Second).
			Should(BeNumerically("<=", 1), "requests must follow Retry-After, not the backoff or a hot loop")
		// The 429 taught the key's create queue the limit: the create waits its turn there, for the
		// slot the session list shows free, rather than asking Browserbase again meanwhile.
		Expect(rejected()).To(BeNumerically(">=", 1))
		Expect(jsonpath(ctx, "browsersession/second", "{.status.queuePosition}")).To(Equal("1"), "it waits in the queue, not given up")
		Expect(jsonpath(ctx, "browsersession/second", `{.status.conditions[?(@.type=="Reconciling")].message}`)).To(
			ContainSubstring("at most 1 at once (learned from a 429)"))

		kubectl(ctx, "delete", "-n", ns, "browsersession/first", "--wait", "--timeout=60s")
		kubectl(ctx, "wait", "-n", ns, "browsersession/second", "--for=condition=Ready", "--timeout=60s")
		elapsed := time.Since(start)

		GinkgoWriter.Printf("429s while waiting %s: %d\n", elapsed.Round(time.Millisecond), rejected())
		Expect(rejected()).To(BeNumerically("<=", int(elapsed/(2*time.Second))+1))

		By("reporting the wait with one event, not one per retry")
		var events struct {
			Items []struct {
				Reason    string `json:"reason"`
				Regarding struct {
					Name string `json:"name"`
				} `json:"regarding"`
				Series *struct {
					Count int `json:"count"`
				} `json:"series"`
			} `json:"items"`
		}
		Expect(json.Unmarshal([]byte(kubectl(ctx, "get", "events.events.k8s.io", "-n", ns, "-o", "json")), &events)).To(Succeed())
		waits := 0
		for _, e := range events.Items {
			if e.Regarding.Name == "second" && e.Reason == "ConcurrencyLimitReached" {
				waits++
				Expect(e.Series).To(BeNil(), "the event was emitted again on a retry")
			}
		}
		Expect(waits).To(Equal(1))
	})

	It("runs two replicas safely: only the leader creates, and a killed leader hands over", func(ctx SpecContext) {
		replicaLog := gbytes.NewBuffer()
		replica, err := env.StartReplica(io.MultiWriter(replicaLog, GinkgoWriter))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(replica.Stop)
		createsPerUID := func() map[string]int {
			n := map[string]int{}
			for _, s := range emu.Sessions() {
				if tag, ok := s.UserMetadata["k8s"].(map[string]any); ok && tag["namespace"] == ns {
					n[fmt.Sprint(tag["name"])]++
				}
			}
			return n
		}

		for i := range 5 {
			kubectl(ctx, "apply", "-n", ns, "-f", sessionManifest(fmt.Sprintf("before-%d", i), ""))
		}
		kubectl(ctx, "wait", "-n", ns, "browsersession", "--all", "--for=condition=Ready", "--timeout=60s")

		By("killing the leader")
		// The first manager has held the lease since the suite started; the replica only waits.
		Expect(string(replicaLog.Contents())).NotTo(MatchRegexp("(?i)successfully acquired lease"))
		env.KillManager()
		DeferCleanup(env.StartManager)
		for i := range 5 {
			kubectl(ctx, "apply", "-n", ns, "-f", sessionManifest(fmt.Sprintf("after-%d", i), ""))
		}
		Eventually(replicaLog).WithTimeout(30 * time.Second).Should(gbytes.Say("(?i)successfully acquired lease"))
		kubectl(ctx, "wait", "-n", ns, "browsersession", "--all", "--for=condition=Ready", "--timeout=60s")

		perName := createsPerUID()
		Expect(perName).To(HaveLen(10))
		for name, n := range perName {
			Expect(n).To(Equal(1), "%s has exactly one session", name)
		}
	})

	It("runs the GitOps sample: a BrowserContext, a renewing session that loads it, deleted in either order", func(ctx SpecContext) {
		DeferCleanup(func(ctx SpecContext) {
			kubectl(ctx, "delete", "browsercontexts", "--all", "-n", ns, "--wait", "--timeout=60s")
		})
		kubectl(ctx, "apply", "-n", ns, "-k", repo+"/config/samples/gitops")
		kubectl(ctx, "wait", "-n", ns, "browsercontext/shop-login", "--for=condition=Ready", "--timeout=60s")
		kubectl(ctx, "wait", "-n", ns, "browsersession/shop", "--for=condition=Ready", "--timeout=60s")

		By("loading the context by the id in its Secret, which status does not show")
		encoded := jsonpath(ctx, "secret/shop-login-browserbase-context", "{.data.contextId}")
		raw, err := base64.StdEncoding.DecodeString(encoded)
		Expect(err).NotTo(HaveOccurred())
		contextID := string(raw)
		Expect(contextID).NotTo(BeEmpty())
		Expect(kubectl(ctx, "get", "-n", ns, "browsercontext/shop-login", "-o", "yaml")).NotTo(ContainSubstring(contextID))
		sess := sessionByID(jsonpath(ctx, "browsersession/shop", "{.status.id}"))
		Expect(sess.ContextID).To(Equal(contextID))
		Expect(sess.PersistsContext).To(BeTrue())
		Expect(jsonpath(ctx, "browsersession/shop", "{.status.renewalTime}")).NotTo(BeEmpty())

		By("deleting the context first: it waits for the session that uses it")
		kubectl(ctx, "delete", "-n", ns, "browsercontext/shop-login", "--wait=false")
		Eventually(func() string {
			return jsonpath(ctx, "browsercontext/shop-login", `{.status.conditions[?(@.type=="Reconciling")].reason}`)
		}).Should(Equal("ContextInUse"))
		Expect(count(http.MethodDelete, "/v1/contexts/"+contextID, http.StatusNoContent)).To(BeZero())
		kubectl(ctx, "delete", "-n", ns, "browsersession/shop", "--wait", "--timeout=60s")
		Eventually(func() int { return count(http.MethodDelete, "/v1/contexts/"+contextID, http.StatusNoContent) }).Should(Equal(1))
		kubectl(ctx, "wait", "-n", ns, "browsercontext/shop-login", "--for=delete", "--timeout=60s")
		Expect(sessionByID(sess.ID).Status).To(Equal("COMPLETED"))
	})

	It("loses nothing across a manager restart", func(ctx SpecContext) {
		kubectl(ctx, "apply", "-n", ns, "-f", sessionManifest("keep", ""))
		kubectl(ctx, "apply", "-n", ns, "-f", sessionManifest("remove", ""))
		kubectl(ctx, "wait", "-n", ns, "browsersession/keep", "browsersession/remove", "--for=condition=Ready", "--timeout=60s")
		keepID := jsonpath(ctx, "browsersession/keep", "{.status.id}")
		removeID := jsonpath(ctx, "browsersession/remove", "{.status.id}")
		keepSecret := jsonpath(ctx, "secret/keep-browserbase", "{.metadata.resourceVersion}")
		createsBefore := count(http.MethodPost, "/v1/sessions", http.StatusCreated)

		By("changing things while the manager is down")
		Expect(env.StopManager()).To(Succeed())
		kubectl(ctx, "apply", "-n", ns, "-f", sessionManifest("added", ""))
		kubectl(ctx, "delete", "-n", ns, "browsersession/remove", "--wait=false")

		By("catching up after the restart")
		Expect(env.StartManager()).To(Succeed())
		kubectl(ctx, "wait", "-n", ns, "browsersession/added", "--for=condition=Ready", "--timeout=60s")
		kubectl(ctx, "wait", "-n", ns, "browsersession/remove", "--for=delete", "--timeout=60s")
		Expect(sessionByID(removeID).Status).To(Equal("COMPLETED"), "the deletion made while down still releases")
		Expect(jsonpath(ctx, "browsersession/keep", "{.status.id}")).To(Equal(keepID))
		Expect(sessionByID(keepID).Status).To(Equal("RUNNING"))
		Expect(jsonpath(ctx, "browsersession/keep", `{.status.conditions[?(@.type=="Ready")].status}`)).To(Equal("True"))
		Expect(jsonpath(ctx, "secret/keep-browserbase", "{.metadata.resourceVersion}")).To(Equal(keepSecret))
		Expect(count(http.MethodPost, "/v1/sessions", http.StatusCreated)-createsBefore).To(Equal(1), "only the added resource creates a session")
		Expect(strings.TrimSpace(kubectl(ctx, "get", "browsersessions", "-n", ns, "-o", "name"))).To(Equal(
			"browsersession.browserbase.io/added\nbrowsersession.browserbase.io/keep"))
	})
})
