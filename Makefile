# Image URL to use all building/pushing image targets
IMG ?= controller:latest

# Tool and control-plane versions. Everything is built through the Go module proxy.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0
ENVTEST_K8S_VERSION ?= 1.37.2
ENVTEST_ETCD_VERSION ?= 3.6.16
export ENVTEST_K8S_VERSION ENVTEST_ETCD_VERSION

GOBIN ?= $(shell go env GOPATH)/bin
LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)

# Setting SHELL to bash allows bash commands to be executed by recipes.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and the ClusterRole from the markers in the code (and the chart's CRD copy).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	cp config/crd/bases/*.yaml dist/chart/crds/

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: manifests generate ## Fail when generated files differ from the committed ones.
	@if [ -n "$$(git status --porcelain -- api config internal main.go)" ]; then \
		echo "Generated files are stale; run 'make manifests generate' and commit:"; \
		git status --porcelain -- api config internal main.go; git --no-pager diff --stat; exit 1; \
	fi

.PHONY: envtest
envtest: ## Build (once) the kube-apiserver, etcd, kubectl and kube-controller-manager that the tests and make dev run.
	@hack/envtest-binaries.sh >/dev/null

.PHONY: test
test: manifests generate fmt vet envtest kustomize helm ## Run every test: units, envtest, end-to-end, real browser clients, then fault injection.
	KUBEBUILDER_ASSETS="$$(hack/envtest-binaries.sh)" go test $$(go list ./... | grep -v /test/faults) -coverprofile cover.out
	@$(MAKE) --no-print-directory test-clients
	@$(MAKE) --no-print-directory test-faults

# The browser tests (internal/emulator, hack/example-client, test/e2e, test/clients) skip, saying
# so, where no Chromium is installed; browser-deps installs it (and chromedriver, node, npm) on
# Debian or Ubuntu as root. With EMULATOR_BROWSER_REQUIRED=1 (.ci/run) a missing browser fails them.
.PHONY: browser-deps
browser-deps: ## Install, when missing, what the browser tests need: chromium-headless-shell, chromium-driver, nodejs, npm (apt-get).
	@hack/dev/install-browser-deps.sh

.PHONY: test-clients
test-clients: ## Playwright, Puppeteer and Selenium (npm, pinned in test/clients/package-lock.json) against the emulator's browser.
	@if ! command -v npm >/dev/null; then echo "SKIP: test/clients: npm is not installed (make browser-deps)"; \
	else cd test/clients && npm ci --no-audit --no-fund --loglevel=error && npm test; fi

# The fault-injection suite runs on its own (it kills processes and loads both cores) and prints
# its summary line; on failure, its whole log.
FAULTS_DURATION ?= 45s
.PHONY: test-faults
test-faults: envtest | $(LOCALBIN) ## Run the fault-injection suite (FAULTS_DURATION of chaos, default 45s).
	@echo "fault-injection suite: $(FAULTS_DURATION) of chaos, log in bin/faults.log"
	@FAULTS_DURATION=$(FAULTS_DURATION) FAULTS_ARTIFACTS=$(LOCALBIN) KUBEBUILDER_ASSETS="$$(hack/envtest-binaries.sh)" \
		go test ./test/faults -count=1 -timeout 60m -v > $(LOCALBIN)/faults.log 2>&1 || { cat $(LOCALBIN)/faults.log; exit 1; }
	@grep -m1 '^faults summary' $(LOCALBIN)/faults.log

# make bench: N=1000 BrowserSessions, 2000 unrelated Secrets, 100 ms latency, a 60 s steady
# window. BENCH_ARGS="-n 100 -steady 10s" for a quick run, "-pods N" to add a Deployment of N
# opted-in Pods scaled from 0 and back (.ci/run runs -n 100 -pods 100), "-queue" for the fair
# create queue under a plan's limits (1000 sessions at 50/min), "-ends" for reads per minute and
# end detection with and without the session feed; see -help and hack/bench/main.go.
BENCH_ARGS ?=
.PHONY: bench
bench: envtest ## Measure bring-up time, API calls, Kubernetes writes, memory and CPU (hack/bench).
	go run ./hack/bench $(BENCH_ARGS)

.PHONY: test-soak
test-soak: ## The fault-injection suite with 10 minutes of chaos.
	@$(MAKE) --no-print-directory test-faults FAULTS_DURATION=10m

.PHONY: dev
dev: envtest | $(LOCALBIN) ## Run it all locally: control plane, emulator (or the real API with BROWSERBASE_API_KEY), manager, sample.
	go build -o $(LOCALBIN)/dev ./hack/dev
	$(LOCALBIN)/dev

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (.golangci.yml) on every package.
	$(GOLANGCI_LINT) run --allow-parallel-runners

.PHONY: lint-fix
lint-fix: golangci-lint ## Format imports (gci, goimports, gofmt) and apply golangci-lint's automatic fixes.
	$(GOLANGCI_LINT) fmt
	$(GOLANGCI_LINT) run --fix

.PHONY: verify-mod
verify-mod: ## Fail when go.mod or go.sum is not tidy (prints the diff 'go mod tidy' would make).
	go mod tidy -diff

# The fast loop: every test that needs no control plane, no browser and no envtest. Left out:
# test/e2e and test/faults (control plane, browsers), and, by name, the envtest suites (the
# Ginkgo TestController of the controller packages, whose plain tests run) and the tests that
# start Chromium or chromedriver. A new test of either kind belongs in UNIT_SKIP.
UNIT_SKIP = ^(TestController|TestProjects|TestControllerManager|TestWebhook|TestBrowserLifecycle|TestBrowserCap|TestBrowsersDieWithTheEmulator|TestConnectWithChromedp|TestConnectKeepAliveAndBrowserClose|TestConnectSelenium|TestPageTitleThroughTheEmulatorsBrowser)$$
.PHONY: test-unit
test-unit: ## Run the unit tests only (no control plane, browser or envtest): seconds, not minutes.
	go test $$(go list ./... | grep -v -e /test/e2e -e /test/faults) -skip '$(UNIT_SKIP)'

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -o bin/manager .

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the cluster of your current kubeconfig.
	go run .

.PHONY: docker-build
docker-build: ## Build the manager image.
	docker build -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push the manager image.
	docker push ${IMG}

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml: CRDs, RBAC and the Deployment in one file.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=${IMG}
	$(KUSTOMIZE) build config/default > dist/install.yaml

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster of your current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl apply -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs from the cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator into the cluster of your current kubeconfig.
	cd config/manager && $(KUSTOMIZE) edit set image controller=${IMG}
	$(KUSTOMIZE) build config/default | kubectl apply -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen at its pinned version.
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Build kustomize at its pinned version.
$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint at its pinned version.
$(GOLANGCI_LINT): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: helm
helm: $(HELM) ## Build helm at its pinned version.
$(HELM): | $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: helm-lint
helm-lint: helm ## Lint the Helm chart in dist/chart.
	$(HELM) lint --strict dist/chart

# go-install-tool installs a Go package at a version into $(LOCALBIN), named with the version so
# a version bump rebuilds it.
# The binary is named after the package path without a major-version suffix (kustomize/v5 -> kustomize).
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
package=$(2)@$(3) ;\
binary=$$(basename $$(echo $(2) | sed 's#/v[0-9]*$$##')) ;\
echo "Installing $${package}" ;\
rm -f $(1) || true ;\
GOBIN=$(LOCALBIN) go install $${package} ;\
mv $(LOCALBIN)/$${binary} $(1) ;\
ln -sf $$(basename $(1)) $(LOCALBIN)/$${binary} ;\
}
endef
