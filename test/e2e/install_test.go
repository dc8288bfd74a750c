package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The two ways users install the operator: the bundle of config/default (make deploy,
// make build-installer) and the Helm chart in dist/chart. Both are accepted by the API server
// (server-side dry run: nothing is created, the running operator is left alone), and the chart
// stays in step with config/: the same CRD byte for byte, the same RBAC rules, the same hardened
// Deployment, flags the manager has.
var _ = Describe("The install bundles", Ordered, ContinueOnFailure, func() {
	const (
		// Contains the chart's name, so it is the prefix of every object's name, as
		// "browserbase-operator-" is in config/default.
		release         = "e2e-browserbase-operator"
		kustomizePrefix = "browserbase-operator-"
		chartDir        = "dist/chart"
		leaderMessage   = "more than one replica needs leaderElection.enabled=true"
	)
	var (
		kustomized []manifest // bin/kustomize build config/default
		helmBin    string
		noHelm     string // why helm cannot run, if it cannot
		ns         string // the namespace the chart is rendered for
	)

	BeforeAll(func(ctx SpecContext) {
		kustomize, err := repoTool(ctx, "kustomize")
		Expect(err).NotTo(HaveOccurred())
		out, err := run(ctx, kustomize, "build", "config/default")
		Expect(err).NotTo(HaveOccurred())
		kustomized = parseManifests(out)

		if helmBin, err = repoTool(ctx, "helm"); err != nil {
			noHelm = err.Error()
		}

		ns = fmt.Sprintf("e2e-install-%d", time.Now().UnixNano()%1_000_000_000)
		kubectl(ctx, "create", "namespace", ns)
		DeferCleanup(func(ctx SpecContext) { kubectl(ctx, "delete", "namespace", ns, "--wait=false") })
	}, NodeTimeout(15*time.Minute))

	requireHelm := func() {
		if noHelm != "" {
			Skip("helm could not be built (make helm), so the chart is not rendered: " + noHelm)
		}
	}
	helm := func(ctx context.Context, args ...string) (string, error) {
		return run(ctx, helmBin, args...)
	}
	// render runs helm template for the test namespace, CRDs included.
	render := func(ctx context.Context, set ...string) (string, error) {
		args := []string{"template", release, chartDir, "--namespace", ns, "--include-crds"}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		return helm(ctx, args...)
	}
	mustRender := func(ctx context.Context, set ...string) []manifest {
		GinkgoHelper()
		out, err := render(ctx, set...)
		Expect(err).NotTo(HaveOccurred())
		return parseManifests(out)
	}
	// dryRunApply applies manifests with a server-side dry run and expects every object accepted.
	dryRunApply := func(ctx context.Context, name string, objs []manifest) {
		GinkgoHelper()
		var all []string
		for _, o := range objs {
			all = append(all, string(o.raw))
		}
		path := writeManifest(name, strings.Join(all, "\n---\n"))
		out := kubectl(ctx, "apply", "--dry-run=server", "-f", path)
		Expect(strings.Count(out, "(server dry run)")).To(Equal(len(objs)), out)
	}
	chartName := func(suffix string) string { return release + "-" + suffix }

	It("builds config/default with kustomize into a bundle the API server accepts, with a hardened Deployment", func(ctx SpecContext) {
		Expect(kinds(kustomized)).To(ContainElements("Namespace", "CustomResourceDefinition", "ServiceAccount",
			"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Deployment"))
		dryRunApply(ctx, "install-kustomize.yaml", kustomized)

		dep := decode[appsv1.Deployment](find(kustomized, "Deployment", kustomizePrefix+"controller-manager"))
		expectHardened(dep)
		namespace := decode[corev1.Namespace](find(kustomized, "Namespace", dep.Namespace))
		Expect(namespace.Labels).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"),
			"the operator's namespace admits only restricted Pods")
		find(kustomized, "ServiceAccount", dep.Spec.Template.Spec.ServiceAccountName)
		svc := decode[corev1.Service](find(kustomized, "Service", kustomizePrefix+"controller-manager-metrics-service"))
		expectSelects(svc, dep)
	})

	It("ships the CRDs of config/crd/bases in the chart, byte for byte", func() {
		bases, err := filepath.Glob(filepath.Join(repo, "config", "crd", "bases", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(bases).NotTo(BeEmpty())
		inChart, err := filepath.Glob(filepath.Join(repo, chartDir, "crds", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(baseNames(inChart)).To(ConsistOf(baseNames(bases)),
			"dist/chart/crds must hold exactly config/crd/bases: cp config/crd/bases/*.yaml dist/chart/crds/")
		for _, base := range bases {
			want, err := os.ReadFile(base)
			Expect(err).NotTo(HaveOccurred())
			got, err := os.ReadFile(filepath.Join(repo, chartDir, "crds", filepath.Base(base)))
			Expect(err).NotTo(HaveOccurred())
			Expect(bytes.Equal(got, want)).To(BeTrue(),
				"dist/chart/crds/%s differs from config/crd/bases: cp config/crd/bases/*.yaml dist/chart/crds/", filepath.Base(base))
		}
	})

	It("renders the chart with default values into what config/default installs, accepted by the API server", func(ctx SpecContext) {
		requireHelm()
		objs := mustRender(ctx)
		dryRunApply(ctx, "install-chart-default.yaml", objs)

		By("having an object for each of config/default's but the Namespace, named alike")
		var wantObjs, gotObjs []string
		for _, o := range kustomized {
			if o.Kind != "Namespace" {
				wantObjs = append(wantObjs, o.Kind+"/"+strings.TrimPrefix(o.Name, kustomizePrefix))
			}
		}
		for _, o := range objs {
			gotObjs = append(gotObjs, o.Kind+"/"+strings.TrimPrefix(o.Name, release+"-"))
		}
		Expect(gotObjs).To(ConsistOf(wantObjs))

		By("granting the manager exactly the rules of config/rbac/role.yaml")
		raw, err := os.ReadFile(filepath.Join(repo, "config", "rbac", "role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var generated rbacv1.ClusterRole
		Expect(yaml.UnmarshalStrict(raw, &generated)).To(Succeed())
		Expect(generated.Rules).NotTo(BeEmpty())
		Expect(decode[rbacv1.ClusterRole](find(objs, "ClusterRole", chartName("manager-role"))).Rules).To(Equal(generated.Rules))
		// Only the verbs used: every write is a patch but the Secret's create, and the finalizers
		// rule is an update by definition; no ConfigMaps (leases only) for leader election.
		for _, rule := range generated.Rules {
			if !slices.Contains(rule.Resources, "browsersessions/finalizers") {
				Expect(rule.Verbs).NotTo(ContainElement("update"), "rule %v", rule)
			}
		}
		leader := decode[rbacv1.Role](find(objs, "Role", chartName("leader-election-role")))
		for _, rule := range leader.Rules {
			Expect(rule.Resources).NotTo(ContainElement("configmaps"))
		}

		By("having the same rules, aggregation labels and bindings as every RBAC object of config/default")
		for _, k := range kustomized {
			c := func() manifest {
				GinkgoHelper()
				return find(objs, k.Kind, chartName(strings.TrimPrefix(k.Name, kustomizePrefix)))
			}
			switch k.Kind {
			case "ClusterRole":
				want, got := decode[rbacv1.ClusterRole](k), decode[rbacv1.ClusterRole](c())
				Expect(got.Rules).To(Equal(want.Rules), k.Name)
				Expect(aggregation(got.Labels)).To(Equal(aggregation(want.Labels)), k.Name)
			case "Role":
				want, got := decode[rbacv1.Role](k), decode[rbacv1.Role](c())
				Expect(got.Rules).To(Equal(want.Rules), k.Name)
				Expect(got.Namespace).To(Equal(ns))
			case "ClusterRoleBinding", "RoleBinding":
				want, got := decode[rbacv1.RoleBinding](k), decode[rbacv1.RoleBinding](c())
				Expect(got.RoleRef.Kind).To(Equal(want.RoleRef.Kind), k.Name)
				Expect(got.RoleRef.Name).To(Equal(chartName(strings.TrimPrefix(want.RoleRef.Name, kustomizePrefix))), k.Name)
				Expect(got.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: chartName("controller-manager"), Namespace: ns}}), k.Name)
			}
		}

		By("running the manager as config/manager/manager.yaml does")
		want := decode[appsv1.Deployment](find(kustomized, "Deployment", kustomizePrefix+"controller-manager"))
		dep := decode[appsv1.Deployment](find(objs, "Deployment", chartName("controller-manager")))
		expectHardened(dep)
		Expect(dep.Namespace).To(Equal(ns))
		Expect(dep.Spec.Replicas).To(Equal(want.Spec.Replicas))
		Expect(dep.Spec.Template.Spec.ServiceAccountName).To(Equal(chartName("controller-manager")))
		Expect(dep.Spec.Template.Spec.SecurityContext).To(Equal(want.Spec.Template.Spec.SecurityContext))
		Expect(dep.Spec.Template.Spec.TerminationGracePeriodSeconds).To(Equal(want.Spec.Template.Spec.TerminationGracePeriodSeconds))
		Expect(dep.Spec.Template.Annotations).To(Equal(want.Spec.Template.Annotations))
		c, wc := manager(dep), manager(want)
		Expect(c.Command).To(Equal(wc.Command))
		Expect(c.Args).To(ContainElements(wc.Args))
		Expect(c.Env).To(Equal(wc.Env), "the default API key comes from the same Secret; GOMEMLIMIT from the memory limit")
		Expect(c.Ports).To(Equal(wc.Ports))
		Expect(c.SecurityContext).To(Equal(wc.SecurityContext))
		Expect(c.LivenessProbe).To(Equal(wc.LivenessProbe))
		Expect(c.ReadinessProbe).To(Equal(wc.ReadinessProbe))
		Expect(quantities(c.Resources.Limits)).To(Equal(quantities(wc.Resources.Limits)))
		Expect(quantities(c.Resources.Requests)).To(Equal(quantities(wc.Resources.Requests)))

		By("pulling the image tagged with the chart's appVersion")
		var chart struct {
			AppVersion string `json:"appVersion"`
		}
		raw, err = os.ReadFile(filepath.Join(repo, chartDir, "Chart.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.Unmarshal(raw, &chart)).To(Succeed())
		Expect(chart.AppVersion).NotTo(BeEmpty())
		Expect(c.Image).To(Equal("controller:" + chart.AppVersion))

		By("exposing the metrics port to the Service")
		svc := decode[corev1.Service](find(objs, "Service", chartName("controller-manager-metrics-service")))
		wantSvc := decode[corev1.Service](find(kustomized, "Service", kustomizePrefix+"controller-manager-metrics-service"))
		Expect(svc.Spec.Ports).To(Equal(wantSvc.Spec.Ports))
		expectSelects(svc, dep)
	})

	// spec.renewal.restartTargets patches workloads; whoever may create a BrowserSession must not
	// get that power over a namespace unless its owner installed it (and each workload opts in).
	It("grants no rights on workloads by default; the restart-targets component and chart value add get and patch", func(ctx SpecContext) {
		wantRules := []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets"}, Verbs: []string{"get", "patch"}}}

		By("leaving them out of config/rbac/role.yaml and config/default")
		raw, err := os.ReadFile(filepath.Join(repo, "config", "rbac", "role.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(workloadRoles([]manifest{{Kind: "ClusterRole", Name: "manager-role", raw: raw}})).To(BeEmpty())
		Expect(workloadRoles(kustomized)).To(BeEmpty())

		By("adding a ClusterRole and its binding with the component config/default names in a comment")
		dir := filepath.Join(workDir, "restart-targets")
		Expect(os.CopyFS(filepath.Join(dir, "config"), os.DirFS(filepath.Join(repo, "config")))).To(Succeed())
		kustomization := filepath.Join(dir, "config", "default", "kustomization.yaml")
		raw, err = os.ReadFile(kustomization)
		Expect(err).NotTo(HaveOccurred())
		const commented = "#- ../components/restart-targets\n"
		Expect(string(raw)).To(ContainSubstring(commented), "config/default tells how to enable the component")
		Expect(os.WriteFile(kustomization, []byte(strings.Replace(string(raw), commented, "- ../components/restart-targets\n", 1)), 0o600)).To(Succeed())
		kustomize, err := repoTool(ctx, "kustomize")
		Expect(err).NotTo(HaveOccurred())
		out, err := run(ctx, kustomize, "build", filepath.Join(dir, "config", "default"))
		Expect(err).NotTo(HaveOccurred())
		withComponent := parseManifests(out)
		Expect(workloadRoles(withComponent)).To(ConsistOf("ClusterRole/" + kustomizePrefix + "restart-targets-role"))
		role := find(withComponent, "ClusterRole", kustomizePrefix+"restart-targets-role")
		Expect(decode[rbacv1.ClusterRole](role).Rules).To(Equal(wantRules))
		binding := find(withComponent, "ClusterRoleBinding", kustomizePrefix+"restart-targets-rolebinding")
		b := decode[rbacv1.ClusterRoleBinding](binding)
		Expect(b.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: kustomizePrefix + "restart-targets-role"}))
		dep := decode[appsv1.Deployment](find(withComponent, "Deployment", kustomizePrefix+"controller-manager"))
		Expect(b.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: dep.Spec.Template.Spec.ServiceAccountName, Namespace: dep.Namespace}}))
		dryRunApply(ctx, "install-kustomize-restart-targets.yaml", []manifest{role, binding})

		requireHelm()
		By("leaving them out of the chart's default render")
		Expect(workloadRoles(mustRender(ctx))).To(BeEmpty())

		By("granting them cluster-wide with restartTargets.enabled")
		objs := mustRender(ctx, "restartTargets.enabled=true")
		dryRunApply(ctx, "install-chart-restart-targets.yaml", objs)
		Expect(workloadRoles(objs)).To(ConsistOf("ClusterRole/" + chartName("restart-targets-role")))
		Expect(decode[rbacv1.ClusterRole](find(objs, "ClusterRole", chartName("restart-targets-role"))).Rules).To(Equal(wantRules))
		b = decode[rbacv1.ClusterRoleBinding](find(objs, "ClusterRoleBinding", chartName("restart-targets-rolebinding")))
		Expect(b.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: chartName("restart-targets-role")}))
		Expect(b.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: chartName("controller-manager"), Namespace: ns}}))

		By("granting them only in the watched namespaces, with manager.watchNamespaces")
		objs = mustRender(ctx, "restartTargets.enabled=true", "manager.watchNamespaces={"+ns+",default}")
		dryRunApply(ctx, "install-chart-restart-targets-namespaced.yaml", objs)
		Expect(workloadRoles(objs)).To(ConsistOf("Role/"+chartName("restart-targets-role"), "Role/"+chartName("restart-targets-role")))
		var roleNamespaces, bindingNamespaces []string
		for _, o := range objs {
			switch {
			case o.Kind == "Role" && o.Name == chartName("restart-targets-role"):
				r := decode[rbacv1.Role](o)
				Expect(r.Rules).To(Equal(wantRules))
				roleNamespaces = append(roleNamespaces, r.Namespace)
			case o.Kind == "RoleBinding" && o.Name == chartName("restart-targets-rolebinding"):
				rb := decode[rbacv1.RoleBinding](o)
				Expect(rb.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: chartName("restart-targets-role")}))
				Expect(rb.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: chartName("controller-manager"), Namespace: ns}}))
				bindingNamespaces = append(bindingNamespaces, rb.Namespace)
			}
		}
		Expect(roleNamespaces).To(ConsistOf(ns, "default"))
		Expect(bindingNamespaces).To(ConsistOf(ns, "default"))
		Expect(names(objs)).NotTo(ContainElement("ClusterRoleBinding/" + chartName("restart-targets-rolebinding")))
	})

	It("passes the defaults of the manager's own flags, and only flags the manager has", func(ctx SpecContext) {
		requireHelm()
		help := managerHelp(ctx)
		defaults := mustRender(ctx)
		all := mustRender(ctx, "browserbase.url=https://api.example.com/v1", "manager.extraArgs={--zap-log-level=debug}",
			"metrics.secure=false", "metrics.port=8080", "manager.pollInterval=1m30s", "manager.createsPerMinute=3")
		dep := decode[appsv1.Deployment](find(all, "Deployment", chartName("controller-manager")))
		for _, arg := range manager(dep).Args {
			name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			Expect(help).To(HaveKey(name), "the chart passes %s, which the manager does not have", arg)
		}
		Expect(manager(dep).Args).To(ContainElements("--browserbase-url=https://api.example.com/v1", "--zap-log-level=debug",
			"--metrics-secure=false", "--metrics-bind-address=:8080", "--session-poll-interval=1m30s", "--creates-per-minute=3"))

		dep = decode[appsv1.Deployment](find(defaults, "Deployment", chartName("controller-manager")))
		args := map[string]string{}
		for _, arg := range manager(dep).Args {
			name, value, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			args[name] = value
		}
		for _, flag := range []string{"session-poll-interval", "session-list-interval", "creates-per-minute", "max-concurrent-reconciles",
			"max-concurrent-browserbase-calls", "kube-api-qps", "kube-api-burst", "metrics-secure"} {
			Expect(args).To(HaveKey(flag))
			Expect(help).To(HaveKey(flag))
			Expect(sameValue(args[flag], help[flag])).To(BeTrue(),
				"values.yaml passes --%s=%s, the manager's default is %q", flag, args[flag], help[flag])
		}
		Expect(args).NotTo(HaveKey("browserbase-url"), "the manager's default URL unless browserbase.url is set")
	})

	It("runs two replicas with leader election, and refuses to render them without it", func(ctx SpecContext) {
		requireHelm()
		objs := mustRender(ctx, "replicas=2")
		dryRunApply(ctx, "install-chart-replicas.yaml", objs)
		dep := decode[appsv1.Deployment](find(objs, "Deployment", chartName("controller-manager")))
		Expect(*dep.Spec.Replicas).To(BeEquivalentTo(2))
		Expect(manager(dep).Args).To(ContainElement("--leader-elect"))
		find(objs, "Role", chartName("leader-election-role"))

		_, err := render(ctx, "replicas=2", "leaderElection.enabled=false")
		Expect(err).To(MatchError(ContainSubstring(leaderMessage)))

		By("leaving leader election and its Role out of a single replica that does without")
		objs = mustRender(ctx, "leaderElection.enabled=false")
		dryRunApply(ctx, "install-chart-no-leader.yaml", objs)
		Expect(manager(decode[appsv1.Deployment](find(objs, "Deployment", chartName("controller-manager")))).Args).NotTo(ContainElement("--leader-elect"))
		Expect(kinds(objs)).NotTo(ContainElements("Role", "RoleBinding"))
	})

	It("turns the metrics endpoint, its Service and its roles off with metrics.enabled=false", func(ctx SpecContext) {
		requireHelm()
		objs := mustRender(ctx, "metrics.enabled=false")
		dryRunApply(ctx, "install-chart-no-metrics.yaml", objs)
		for _, o := range objs {
			Expect(o.Name).NotTo(ContainSubstring("metrics"))
		}
		c := manager(decode[appsv1.Deployment](find(objs, "Deployment", chartName("controller-manager"))))
		Expect(c.Args).To(ContainElement("--metrics-bind-address=0"))
		// The webhook's port only.
		Expect(c.Ports).To(ConsistOf(HaveField("Name", "webhook-server")))
	})

	It("passes the other values through to the Deployment", func(ctx SpecContext) {
		requireHelm()
		objs := mustRender(ctx, "image.repository=registry.example.com/bb/operator", "image.tag=v9.9.9", "image.pullPolicy=Always",
			"imagePullSecrets[0].name=regcred", "credentials.existingSecret=bb-key", "credentials.key=token", "credentials.optional=false",
			"nodeSelector.disktype=ssd", "tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
			"podAnnotations.team=scraping", "resources.limits.memory=512Mi",
			"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=kubernetes.io/os",
			"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=In",
			"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values={linux}")
		dryRunApply(ctx, "install-chart-values.yaml", objs)
		dep := decode[appsv1.Deployment](find(objs, "Deployment", chartName("controller-manager")))
		pod, c := dep.Spec.Template.Spec, manager(dep)
		Expect(c.Image).To(Equal("registry.example.com/bb/operator:v9.9.9"))
		Expect(c.ImagePullPolicy).To(Equal(corev1.PullAlways))
		Expect(pod.ImagePullSecrets).To(Equal([]corev1.LocalObjectReference{{Name: "regcred"}}))
		Expect(c.Env).To(HaveLen(2))
		Expect(c.Env[0].Name).To(Equal("BROWSERBASE_API_KEY"))
		Expect(c.Env[1].Name).To(Equal("GOMEMLIMIT"))
		Expect(c.Env[1].ValueFrom.ResourceFieldRef.Resource).To(Equal("limits.memory"))
		ref := c.Env[0].ValueFrom.SecretKeyRef
		Expect(ref.Name).To(Equal("bb-key"))
		Expect(ref.Key).To(Equal("token"))
		Expect(*ref.Optional).To(BeFalse())
		Expect(pod.NodeSelector).To(Equal(map[string]string{"disktype": "ssd"}))
		Expect(pod.Tolerations).To(Equal([]corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}))
		Expect(pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values).To(Equal([]string{"linux"}))
		Expect(dep.Spec.Template.Annotations).To(HaveKeyWithValue("team", "scraping"))
		Expect(dep.Spec.Template.Annotations).To(HaveKeyWithValue("kubectl.kubernetes.io/default-container", "manager"))
		Expect(c.Resources.Limits.Memory().String()).To(Equal("512Mi"))
		expectHardened(dep)

		By("leaving the default API key unset with credentials.existingSecret empty")
		c = manager(decode[appsv1.Deployment](find(mustRender(ctx, "credentials.existingSecret="), "Deployment", chartName("controller-manager"))))
		Expect(c.Env).To(ConsistOf(HaveField("Name", "GOMEMLIMIT")))
	})

	It("rejects values it does not know or cannot run", func(ctx SpecContext) {
		requireHelm()
		for set, why := range map[string]string{
			"replica=2":                         "additional properties 'replica' not allowed", // a typo of replicas
			"metrics.port=8081":                 "metrics.port cannot be 8081",
			"manager.pollInterval=often":        "/manager/pollInterval",
			"image.pullPolicy=Sometimes":        "/image/pullPolicy",
			"manager.createsPerMinute=fast":     "/manager/createsPerMinute",
			"manager.maxConcurrentReconciles=0": "/manager/maxConcurrentReconciles",
		} {
			_, err := render(ctx, set)
			Expect(err).To(MatchError(ContainSubstring(why)), "helm template --set %s", set)
		}
	})

	It("tells how to create the credentials Secret, and passes helm lint", func(ctx SpecContext) {
		requireHelm()
		out, err := helm(ctx, "install", release, chartDir, "--namespace", ns, "--dry-run=server", "--kubeconfig", env.AdminKubeconfig)
		Expect(err).NotTo(HaveOccurred())
		_, notes, found := strings.Cut(out, "NOTES:")
		Expect(found).To(BeTrue(), out)
		Expect(notes).To(ContainSubstring("kubectl -n " + ns + " create secret generic browserbase-credentials --from-literal=apiKey="))
		Expect(notes).To(ContainSubstring("rollout restart deployment/" + chartName("controller-manager")))

		out, err = helm(ctx, "lint", "--strict", chartDir)
		Expect(err).NotTo(HaveOccurred(), out)
		out, err = helm(ctx, "lint", "--strict", chartDir, "--set", "replicas=3", "--set", "metrics.enabled=false", "--set", "credentials.existingSecret=")
		Expect(err).NotTo(HaveOccurred(), out)
	})
})

// A manifest is one object of a multi-document YAML stream.
type manifest struct {
	Kind string
	Name string
	raw  []byte
}

func parseManifests(stream string) []manifest {
	GinkgoHelper()
	var objs []manifest
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(stream)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		Expect(err).NotTo(HaveOccurred())
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		Expect(yaml.Unmarshal(doc, &meta)).To(Succeed(), string(doc))
		if meta.Kind == "" { // only comments
			continue
		}
		objs = append(objs, manifest{Kind: meta.Kind, Name: meta.Metadata.Name, raw: doc})
	}
}

// find returns the object of that kind and name; it fails the spec if there is none.
func find(objs []manifest, kind, name string) manifest {
	GinkgoHelper()
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	Fail(fmt.Sprintf("no %s %s among %v", kind, name, names(objs)))
	return manifest{}
}

// decode decodes an object strictly: a field its type does not have is an error.
func decode[T any](o manifest) T {
	GinkgoHelper()
	var v T
	Expect(yaml.UnmarshalStrict(o.raw, &v)).To(Succeed(), "%s %s", o.Kind, o.Name)
	return v
}

func kinds(objs []manifest) []string {
	var k []string
	for _, o := range objs {
		k = append(k, o.Kind)
	}
	return k
}

func names(objs []manifest) []string {
	var n []string
	for _, o := range objs {
		n = append(n, o.Kind+"/"+o.Name)
	}
	return n
}

func baseNames(paths []string) []string {
	var b []string
	for _, p := range paths {
		b = append(b, filepath.Base(p))
	}
	return b
}

func manager(dep appsv1.Deployment) corev1.Container {
	GinkgoHelper()
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c
		}
	}
	Fail("the Deployment has no manager container")
	return corev1.Container{}
}

// expectHardened checks what manager.yaml promises: non-root, read-only root filesystem,
// RuntimeDefault seccomp, no capabilities, no privilege escalation, probes on the probe port,
// requests and limits.
func expectHardened(dep appsv1.Deployment) {
	GinkgoHelper()
	pod := dep.Spec.Template.Spec
	Expect(pod.SecurityContext).NotTo(BeNil())
	Expect(pod.SecurityContext.RunAsNonRoot).To(HaveValue(BeTrue()))
	Expect(pod.SecurityContext.SeccompProfile).NotTo(BeNil())
	Expect(pod.SecurityContext.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))

	c := manager(dep)
	Expect(c.SecurityContext).NotTo(BeNil())
	Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()))
	Expect(c.SecurityContext.AllowPrivilegeEscalation).To(HaveValue(BeFalse()))
	Expect(c.SecurityContext.Capabilities).NotTo(BeNil())
	Expect(c.SecurityContext.Capabilities.Drop).To(Equal([]corev1.Capability{"ALL"}))
	Expect(c.SecurityContext.Capabilities.Add).To(BeEmpty())

	Expect(c.Args).To(ContainElement("--health-probe-bind-address=:8081"))
	for i, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		path := []string{"/healthz", "/readyz"}[i]
		Expect(probe).NotTo(BeNil(), path)
		Expect(probe.HTTPGet).NotTo(BeNil(), path)
		Expect(probe.HTTPGet.Path).To(Equal(path))
		Expect(probe.HTTPGet.Port.IntValue()).To(Equal(8081), path)
	}

	for _, list := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		Expect(list).To(HaveKey(corev1.ResourceCPU))
		Expect(list).To(HaveKey(corev1.ResourceMemory))
		for _, q := range list {
			Expect(q.IsZero()).To(BeFalse())
		}
	}
}

// expectSelects checks that the Service sends to the Deployment's Pods.
func expectSelects(svc corev1.Service, dep appsv1.Deployment) {
	GinkgoHelper()
	Expect(svc.Spec.Selector).NotTo(BeEmpty())
	for k, v := range svc.Spec.Selector {
		Expect(dep.Spec.Template.Labels).To(HaveKeyWithValue(k, v))
	}
	Expect(svc.Namespace).To(Equal(dep.Namespace))
	for _, p := range svc.Spec.Ports {
		Expect(manager(dep).Ports).To(ContainElement(HaveField("ContainerPort", int32(p.TargetPort.IntValue()))))
	}
}

// workloadRoles returns the Roles and ClusterRoles (as Kind/name) with a rule on Deployments or
// StatefulSets.
func workloadRoles(objs []manifest) []string {
	GinkgoHelper()
	var out []string
	for _, o := range objs {
		if o.Kind != "Role" && o.Kind != "ClusterRole" {
			continue
		}
		var role struct {
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		Expect(yaml.Unmarshal(o.raw, &role)).To(Succeed(), "%s %s", o.Kind, o.Name)
		for _, rule := range role.Rules {
			group := slices.Contains(rule.APIGroups, "apps") || slices.Contains(rule.APIGroups, "*")
			resource := slices.ContainsFunc(rule.Resources, func(r string) bool {
				return r == "*" || strings.HasPrefix(r, "deployments") || strings.HasPrefix(r, "statefulsets")
			})
			if group && resource {
				out = append(out, o.Kind+"/"+o.Name)
				break
			}
		}
	}
	return out
}

// aggregation returns the labels that aggregate a ClusterRole into the built-in ones.
func aggregation(labels map[string]string) map[string]string {
	a := map[string]string{}
	for k, v := range labels {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			a[k] = v
		}
	}
	return a
}

func quantities(list corev1.ResourceList) map[corev1.ResourceName]string {
	q := map[corev1.ResourceName]string{}
	for name, v := range list {
		q[name] = v.String()
	}
	return q
}

// sameValue compares a flag's value with the manager's printed default, as durations, numbers or
// text.
func sameValue(value, def string) bool {
	if def == "" { // flag.PrintDefaults prints no default for a zero value
		a, err := strconv.ParseFloat(value, 64)
		return value == "" || value == "false" || (err == nil && a == 0)
	}
	if a, err := time.ParseDuration(value); err == nil {
		b, err := time.ParseDuration(def)
		return err == nil && a == b
	}
	if a, err := strconv.ParseFloat(value, 64); err == nil {
		b, err := strconv.ParseFloat(def, 64)
		return err == nil && a == b
	}
	return value == def
}

// managerHelp runs the manager binary with --help and returns its flags and their printed
// defaults ("" for none).
func managerHelp(ctx context.Context) map[string]string {
	GinkgoHelper()
	bin := filepath.Join(workDir, "manager") // localenv builds it there
	if _, err := os.Stat(bin); err != nil {
		bin = filepath.Join(workDir, "manager-help")
		_, err := run(ctx, "go", "build", "-o", bin, ".")
		Expect(err).NotTo(HaveOccurred())
	}
	out, _ := exec.CommandContext(ctx, bin, "--help").CombinedOutput() // exits 0 or 2 by Go version
	flags := map[string]string{}
	// flag.PrintDefaults: "  -name type" then the usage, indented, ending in "(default x)".
	entry := regexp.MustCompile(`(?m)^  -([a-zA-Z0-9][-a-zA-Z0-9._]*)[^\n]*\n((?:    [^\n]*\n?)*)`)
	def := regexp.MustCompile(`\(default ("?)(.*?)"?\)\s*$`)
	for _, m := range entry.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = ""
		if d := def.FindStringSubmatch(m[2]); d != nil {
			flags[m[1]] = d[2]
		}
	}
	Expect(flags).To(HaveKey("leader-elect"), "unexpected --help output:\n%s", out)
	return flags
}

// repoTool returns bin/<name>, building it with make <name> if it is missing.
func repoTool(ctx context.Context, name string) (string, error) {
	path := filepath.Join(repo, "bin", name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	GinkgoWriter.Printf("building bin/%s with make %s\n", name, name)
	if _, err := run(ctx, "make", name); err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("make %s did not write bin/%s: %w", name, name, err)
	}
	return path, nil
}

// run runs a command in the repository and returns its stdout; the error carries its stderr.
// Helm keeps its configuration and caches in the suite's work directory.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(workDir, "helm", "config"),
		"HELM_CACHE_HOME="+filepath.Join(workDir, "helm", "cache"),
		"HELM_DATA_HOME="+filepath.Join(workDir, "helm", "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
