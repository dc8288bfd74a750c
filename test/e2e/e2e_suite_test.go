// Package e2e drives what users run: the manager binary built from main.go, the install bundle of
// config/default, and kubectl, against a local control plane and the Browserbase emulator. The
// manager authenticates as the ServiceAccount of config/rbac, so a missing RBAC rule fails here.
package e2e

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/browserbase/session-operator/internal/emulator"
	"github.com/browserbase/session-operator/internal/localenv"
)

// API keys the emulator accepts.
const (
	defaultKey = "bb_e2e_default_key_0123456789"
	limitedKey = "bb_e2e_limited_key_0123456789"
	// browserKey's sessions get a real headless Chromium when one is installed (browser_test.go).
	browserKey = "bb_e2e_browser_key_0123456789"
	// Keys of the projects that project objects name (projects_test.go), one emulator project
	// each, so that every spec can tell by a session's project which key made it.
	projectAKey = "bb_e2e_project_a_key_0123456789"
	// projectARotatedKey is a second key of project A: what a rotation puts in the Secret.
	projectARotatedKey = "bb_e2e_project_a_rotated_0123456"
	projectBKey        = "bb_e2e_project_b_key_0123456789"
	clusterProjectKey  = "bb_e2e_cluster_project_key_0123456789"
)

// The emulator projects of the keys above, with limits unlike the others' so that a project
// object's status shows which one it found.
var (
	projectA       = emulator.Project{ID: "e2e-project-a", Name: "project-a", Concurrency: 7, DefaultTimeout: 900}
	projectB       = emulator.Project{ID: "e2e-project-b", Name: "project-b", Concurrency: 3, DefaultTimeout: 1200}
	clusterProject = emulator.Project{ID: "e2e-project-cluster", Name: "cluster", Concurrency: 4, DefaultTimeout: 600}
)

// managerArgs are the manager's flags beyond localenv's.
var managerArgs = []string{
	// --credentials-recheck-interval stays at its default (1m): a project must notice its key
	// Secret through its watch, within seconds, and the recheck would hide a broken watch.
	"--session-poll-interval=2s", "--credentials-recheck-interval=1m", "--zap-devel",
	// Short leases, so the handover after a killed leader fits in a test.
	"--leader-election-lease-duration=6s", "--leader-election-renew-deadline=5s", "--leader-election-retry-period=1s",
}

var (
	env *localenv.Env
	emu *emulator.Server
	// browserMode is the emulator's browser backend for browserKey's project: off without Chromium.
	browserMode emulator.BrowserMode
	repo        string
	workDir     string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end Suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)

	var err error
	repo, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	assets, err := localenv.AssetsDir(ctx, repo)
	Expect(err).NotTo(HaveOccurred())
	workDir, err = os.MkdirTemp("", "bbs-e2e-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, workDir)

	emu = emulator.New()
	emu.AddKey(defaultKey, emulator.Project{ID: "e2e-default", Name: "default", Concurrency: 50})
	emu.AddKey(limitedKey, emulator.Project{ID: "e2e-limited", Name: "limited", Concurrency: 1})
	// Short, so the rate-limit case completes quickly; the operator must still honour it.
	emu.SetConcurrencyRetryAfter(2 * time.Second)
	// As the real API allows: a get without the connect URL and signing key, which only the
	// create answer then carries.
	emu.SetGetReturnsConnect(false)
	emu.AddKey(browserKey, emulator.Project{ID: "e2e-browser", Name: "browser", Concurrency: 5})
	emu.AddKey(projectAKey, projectA)
	emu.AddKey(projectARotatedKey, projectA)
	emu.AddKey(projectBKey, projectB)
	emu.AddKey(clusterProjectKey, clusterProject)
	browserMode, err = emu.EnableBrowsers(emulator.BrowserOptions{Mode: emulator.BrowserAuto, Projects: []string{"e2e-browser"}})
	Expect(err).NotTo(HaveOccurred())
	server := httptest.NewServer(emu)
	DeferCleanup(server.Close)
	DeferCleanup(emu.Close) // after the server: stops every browser

	env, err = localenv.Start(ctx, localenv.Options{
		RepoRoot:       repo,
		AssetsDir:      assets,
		WorkDir:        workDir,
		BrowserbaseURL: server.URL,
		APIKey:         defaultKey,
		ManagerOutput:  GinkgoWriter,
		Metrics:        true,
		Webhook:        true,
		ManagerArgs:    managerArgs,
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(env.Stop()).To(Succeed()) })
	Expect(env.StartManager()).To(Succeed())
}, NodeTimeout(10*time.Minute))

// kubectl runs kubectl as the cluster admin and fails the spec on an error.
func kubectl(ctx context.Context, args ...string) string {
	GinkgoHelper()
	out, err := env.Kubectl(ctx, args...)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// writeManifest writes YAML to a file for kubectl apply -f.
func writeManifest(name, yaml string) string {
	GinkgoHelper()
	path := filepath.Join(workDir, name)
	Expect(os.WriteFile(path, []byte(yaml), 0o600)).To(Succeed())
	return path
}
