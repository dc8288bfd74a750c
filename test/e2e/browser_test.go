package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/browserbase/session-operator/internal/emulator"
)

// The whole path with a real browser: manifest → operator → Browserbase API (the emulator, with
// a headless Chromium per session) → Secret → workload → browser. The workload is
// hack/example-client, reading connectUrl from the Secret as a mounted volume would give it, and
// loading a page from a local HTTP server through the session's browser.
var _ = Describe("A workload driving the session's browser", func() {
	It("loads a page through the browser behind the Secret's connectUrl", func(ctx SpecContext) {
		ns := browserNamespace(ctx, "e2e-browser", "the browser workload")
		kubectl(ctx, "apply", "-n", ns, "-f", writeManifest(ns+"-browser.yaml", `apiVersion: browserbase.io/v1alpha1
kind: BrowserSession
metadata:
  name: scraper
spec:
  timeout: 600
  keepAlive: true
  apiKeySecretRef: {name: browser-key}
`))
		kubectl(ctx, "wait", "-n", ns, "browsersession/scraper", "--for=condition=Ready", "--timeout=90s")
		id := kubectl(ctx, "get", "-n", ns, "browsersession/scraper", "-o", "jsonpath={.status.id}")
		Eventually(emu.BrowserPIDs).ShouldNot(BeEmpty(), "the session's browser runs")

		By("mounting the Secret's connectUrl for the workload")
		encoded := kubectl(ctx, "get", "-n", ns, "secret/scraper-browserbase", "-o", "jsonpath={.data.connectUrl}")
		connectURL, err := base64.StdEncoding.DecodeString(encoded)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(connectURL)).To(HavePrefix("ws://127.0.0.1:"), "the emulator's connect front door")
		mount := filepath.Join(workDir, ns)
		Expect(os.MkdirAll(mount, 0o700)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(mount, "connectUrl"), connectURL, 0o600)).To(Succeed())

		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<!doctype html><title>Scraped through the operator's session</title>")
		}))
		DeferCleanup(page.Close)

		By("running the workload")
		bin := filepath.Join(workDir, "example-client")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./hack/example-client")
		build.Dir = repo
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		workload := exec.CommandContext(ctx, bin, "--connect-url-file", filepath.Join(mount, "connectUrl"), "--url", page.URL, "--timeout", "60s")
		workload.Env = []string{"PATH=/usr/bin:/bin"}
		out, err = workload.Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(string(out))).To(Equal("Scraped through the operator's session"))

		By("stopping the browser when the BrowserSession is deleted")
		kubectl(ctx, "delete", "-n", ns, "browsersession/scraper", "--wait", "--timeout=60s")
		sess, ok := emu.Session(id)
		Expect(ok).To(BeTrue())
		Expect(sess.Status).To(Equal("COMPLETED"))
		Eventually(emu.BrowserPIDs).Should(BeEmpty(), "a browser outlived its released session")
	}, NodeTimeout(5*time.Minute))
	It("keeps a workload that mounts the Secret working across a renewal, without restarting it", func(ctx SpecContext) {
		ns := browserNamespace(ctx, "e2e-renewal", "the renewal workload")
		kubectl(ctx, "apply", "-n", ns, "-f", writeManifest(ns+"-renewing.yaml", `apiVersion: browserbase.io/v1alpha1
kind: BrowserSession
metadata:
  name: renewing
spec:
  timeout: 3600
  apiKeySecretRef: {name: browser-key}
  renewal: {policy: BeforeExpiry, renewBefore: 3580s, overlap: 5s}
`))
		kubectl(ctx, "wait", "-n", ns, "browsersession/renewing", "--for=condition=Ready", "--timeout=90s")
		first := kubectl(ctx, "get", "-n", ns, "browsersession/renewing", "-o", "jsonpath={.status.id}")

		By("projecting the Secret into files as the kubelet does for a volume: a new directory, swapped in by a symlink")
		mount := filepath.Join(workDir, ns)
		Expect(os.MkdirAll(mount, 0o700)).To(Succeed())
		project := func(ctx context.Context) error {
			encoded, err := env.Kubectl(ctx, "get", "-n", ns, "secret/renewing-browserbase", "-o", "jsonpath={.data.connectUrl}")
			if err != nil {
				return err
			}
			url, err := base64.StdEncoding.DecodeString(encoded)
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp(mount, "..data-")
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "connectUrl"), url, 0o600); err != nil {
				return err
			}
			link := filepath.Join(mount, "..data.tmp")
			_ = os.Remove(link)
			if err := os.Symlink(filepath.Base(dir), link); err != nil {
				return err
			}
			return os.Rename(link, filepath.Join(mount, "..data"))
		}
		Expect(project(ctx)).To(Succeed())
		Expect(os.Symlink(filepath.Join("..data", "connectUrl"), filepath.Join(mount, "connectUrl"))).To(Succeed())
		kubelet, stopKubelet := context.WithCancel(context.Background())
		DeferCleanup(stopKubelet)
		go func() {
			for kubelet.Err() == nil {
				_ = project(kubelet)
				time.Sleep(time.Second)
			}
		}()

		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<!doctype html><title>Still scraping</title>")
		}))
		DeferCleanup(page.Close)

		By("running one workload process throughout, loading a page every second")
		bin := filepath.Join(workDir, "example-client")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./hack/example-client")
		build.Dir = repo
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		stdout := gbytes.NewBuffer()
		workload := exec.Command(bin, "--connect-url-file", filepath.Join(mount, "connectUrl"), "--url", page.URL, "--timeout", "20s", "--every", "1s")
		workload.Env = []string{"PATH=/usr/bin:/bin"}
		workload.Stdout, workload.Stderr = stdout, GinkgoWriter
		Expect(workload.Start()).To(Succeed())
		DeferCleanup(func() { _ = workload.Process.Kill(); _ = workload.Wait() })
		Eventually(stdout, 60*time.Second).Should(gbytes.Say("Still scraping"))

		By("renewing: the predecessor is released once the Secret has the successor")
		Eventually(func(g Gomega) {
			g.Expect(env.Kubectl(ctx, "get", "-n", ns, "browsersession/renewing", "-o", "jsonpath={.status.revision}")).To(Equal("2"))
			prev, _ := emu.Session(first)
			g.Expect(prev.Status).To(Equal("COMPLETED"))
		}, 2*time.Minute, time.Second).Should(Succeed())
		Expect(kubectl(ctx, "get", "-n", ns, "browsersession/renewing", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")).To(Equal("True"))

		By("the same process loading pages through the successor's browser")
		for range 3 {
			Eventually(stdout, 60*time.Second).Should(gbytes.Say("Still scraping"))
		}
		Expect(workload.ProcessState).To(BeNil(), "the workload was never restarted")
		stopKubelet()
	}, NodeTimeout(5*time.Minute))
})

// browserNamespace skips the spec where no Chromium is installed (fails it when
// EMULATOR_BROWSER_REQUIRED is set), and otherwise makes a namespace holding the API key of the
// emulator's browser-backed project, whose BrowserSessions are deleted when the spec ends.
func browserNamespace(ctx SpecContext, prefix, what string) string {
	GinkgoHelper()
	if browserMode == emulator.BrowserOff {
		if os.Getenv("EMULATOR_BROWSER_REQUIRED") != "" {
			Fail("no Chromium installed, and EMULATOR_BROWSER_REQUIRED is set")
		}
		Skip("SKIP: no Chromium installed (apt-get install chromium-headless-shell): " + what + " is not tested")
	}
	ns := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
	kubectl(ctx, "create", "namespace", ns)
	DeferCleanup(func(ctx SpecContext) {
		kubectl(ctx, "delete", "browsersessions", "--all", "-n", ns, "--wait", "--timeout=60s")
	})
	kubectl(ctx, "create", "secret", "generic", "browser-key", "-n", ns, "--from-literal=apiKey="+browserKey)
	return ns
}
