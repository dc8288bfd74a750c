package podinjector

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/browserbase/session-operator/api/v1alpha1"
)

// Keys of the session Secret, as internal/controller/browsersession writes them.
const (
	secretKeyConnectURL        = "connectUrl"
	secretKeySessionID         = "sessionId"
	secretKeySigningKey        = "signingKey"
	secretKeySeleniumRemoteURL = "seleniumRemoteUrl"
)

// VolumeName is the name of the Secret volume added to the Pod, and of its mounts.
const VolumeName = "browserbase-session"

// omitEnv, as the name of a variable in spec.injection.env, leaves that variable out.
const omitEnv = "-"

// mutate adds to pod what inj asks for, reading from the Secret secret: the annotation naming
// it, the environment variables and the volume, in the selected containers. What is already
// there (a variable of the same name, the volume, its mount) is left alone, so a second call
// changes nothing. An error is the reason to refuse the Pod, for its author.
func mutate(pod *corev1.Pod, inj *v1alpha1.Injection, secret string) error {
	if inj == nil {
		inj = &v1alpha1.Injection{}
	}
	containers, err := selectContainers(pod, inj.Containers)
	if err != nil {
		return err
	}
	volume := inj.Volume == nil || !inj.Volume.Disabled
	mountPath := v1alpha1.DefaultSessionVolumeMountPath
	if inj.Volume != nil && inj.Volume.MountPath != "" {
		mountPath = inj.Volume.MountPath
	}
	// Check every container before changing any, so that a refusal leaves the Pod as it was.
	if volume {
		for _, c := range containers {
			if err := checkMountPath(c, mountPath); err != nil {
				return err
			}
		}
	}

	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[v1alpha1.AnnotationSessionSecret] = secret
	vars := envVars(inj.Env, secret)
	for _, c := range containers {
		addEnv(c, vars)
	}
	if volume {
		addVolume(pod, secret)
		for _, c := range containers {
			addMount(c, mountPath)
		}
	}
	return nil
}

// selectContainers returns the containers named, or every (non-init) container when names is
// empty. A name the Pod has no container (or init container) of is an error naming it.
func selectContainers(pod *corev1.Pod, names []string) ([]*corev1.Container, error) {
	if len(names) == 0 {
		out := make([]*corev1.Container, 0, len(pod.Spec.Containers))
		for i := range pod.Spec.Containers {
			out = append(out, &pod.Spec.Containers[i])
		}
		return out, nil
	}
	var out []*corev1.Container
	var missing []string
	for _, name := range names {
		if c := findContainer(pod, name); c != nil {
			out = append(out, c)
		} else {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the BrowserSessionTemplate's spec.injection.containers names %s, which this Pod "+
			"does not have (its containers: %s)", quoteAll(missing), quoteAll(containerNames(pod)))
	}
	return out, nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func containerNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		names = append(names, c.Name)
	}
	return names
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(quoted, ", ")
}

// envVars are the variables spec.injection.env asks for, in the Secret's key order: defaults
// for empty names, none for "-", none at all when disabled.
func envVars(env *v1alpha1.EnvInjection, secret string) []corev1.EnvVar {
	if env == nil {
		env = &v1alpha1.EnvInjection{}
	}
	if env.Disabled {
		return nil
	}
	pairs := []struct{ name, fallback, key string }{
		{env.ConnectURL, v1alpha1.DefaultEnvConnectURL, secretKeyConnectURL},
		{env.SessionID, v1alpha1.DefaultEnvSessionID, secretKeySessionID},
		{env.SigningKey, v1alpha1.DefaultEnvSigningKey, secretKeySigningKey},
		{env.SeleniumRemoteURL, v1alpha1.DefaultEnvSeleniumRemoteURL, secretKeySeleniumRemoteURL},
	}
	var vars []corev1.EnvVar
	for _, p := range pairs {
		name := p.name
		if name == "" {
			name = p.fallback
		}
		if name == omitEnv {
			continue
		}
		vars = append(vars, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: secret},
				Key:                  p.key,
			},
		}})
	}
	return vars
}

// addEnv appends the variables c does not define yet: the Pod's author's own value wins.
func addEnv(c *corev1.Container, vars []corev1.EnvVar) {
	for _, v := range vars {
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == v.Name }) {
			c.Env = append(c.Env, v)
		}
	}
}

// addVolume adds the Secret volume, unless the Pod has a volume of that name.
func addVolume(pod *corev1.Pod, secret string) {
	if slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == VolumeName }) {
		return
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
		Name:         VolumeName,
		VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}},
	})
}

// checkMountPath refuses a container that mounts another volume where the Secret's files go:
// the API server would refuse the Pod anyway, with a message that does not say why.
func checkMountPath(c *corev1.Container, path string) error {
	for _, m := range c.VolumeMounts {
		if m.Name != VolumeName && strings.TrimSuffix(m.MountPath, "/") == strings.TrimSuffix(path, "/") {
			return fmt.Errorf("container %q already mounts volume %q at %s, where the session's Secret volume "+
				"goes; set the BrowserSessionTemplate's spec.injection.volume.mountPath to another path",
				c.Name, m.Name, path)
		}
	}
	return nil
}

// addMount mounts the volume read-only in c, unless c mounts it already.
func addMount(c *corev1.Container, path string) {
	if slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == VolumeName }) {
		return
	}
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: VolumeName, MountPath: path, ReadOnly: true})
}
