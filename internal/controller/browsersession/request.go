package browsersession

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"unicode/utf16"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/browserbase/session-operator/api/v1alpha1"
	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/project"
	"github.com/browserbase/session-operator/internal/reconcile"
)

// createRequest builds the create-session body from the spec, tagged with this resource and
// the create attempt's token. It reads proxy passwords from their Secrets, and the context id
// from a BrowserContext's Secret (waiting until it is Ready), and refuses (with a stallError) what Browserbase would refuse but admission
// cannot see, such as userMetadata that is too long once the operator's tag is added, and a
// Secret name that cannot be written. The project's session defaults fill what the spec leaves
// empty, and its id is used when the spec names none.
func (r *Reconciler) createRequest(ctx context.Context, bs *v1alpha1.BrowserSession, proj *project.Entry, attempt string) (browserbase.CreateSessionRequest, error) {
	spec := withProjectDefaults(bs.Spec, proj)
	req := browserbase.CreateSessionRequest{
		ProjectID:       spec.ProjectID,
		ExtensionID:     spec.ExtensionID,
		Timeout:         spec.Timeout,
		KeepAlive:       spec.KeepAlive,
		Region:          string(spec.Region),
		BrowserSettings: browserSettings(spec.BrowserSettings),
		UserMetadata:    userMetadata(bs, attempt, r.ClusterID),
	}
	if errs := validation.IsDNS1123Subdomain(secretName(bs)); len(errs) > 0 {
		return req, reconcile.Stalled(v1alpha1.ReasonInvalidSpec,
			"the Secret name %q cannot be used (%s), so the session's credentials would have nowhere to go: "+
				"re-create the BrowserSession with a shorter name or with spec.secretName set", secretName(bs), strings.Join(errs, "; "))
	}
	if n := jsonLength(req.UserMetadata); n >= v1alpha1.MaxUserMetadataLength {
		return req, reconcile.Stalled(v1alpha1.ReasonInvalidSpec,
			"userMetadata would be %d characters of JSON with the operator's %q tag of this resource, and Browserbase "+
				"accepts under %d: re-create the BrowserSession with shorter spec.metadata (or a shorter name)",
			n, v1alpha1.ReservedMetadataKey, v1alpha1.MaxUserMetadataLength)
	}
	if spec.BrowserSettings != nil && spec.BrowserSettings.Context != nil {
		id, err := r.contextID(ctx, bs)
		if err != nil {
			return req, err
		}
		req.BrowserSettings.Context = &browserbase.BrowserContext{ID: id, Persist: spec.BrowserSettings.Context.Persist}
	}
	for _, p := range spec.Proxies {
		proxy := browserbase.Proxy{
			Type:          string(p.Type),
			Server:        p.Server,
			Username:      p.Username,
			DomainPattern: p.DomainPattern,
		}
		if g := p.Geolocation; g != nil {
			proxy.Geolocation = &browserbase.ProxyGeolocation{Country: g.Country, State: g.State, City: g.City}
		}
		if ref := p.PasswordSecretRef; ref != nil {
			password, err := r.Credentials.SecretValue(ctx, bs.Namespace, ref.Name, ref.Key, "the proxy password")
			if err != nil {
				return req, err
			}
			proxy.Password = browserbase.Sensitive(password)
		}
		req.Proxies = append(req.Proxies, proxy)
	}
	return req, nil
}

// userMetadata is spec.metadata plus the operator's tag, which ties the session to this resource,
// to the create attempt that made it and to this cluster, so it can be found again with a q query
// (user_metadata['k8s']['attempt']:'<token>').
func userMetadata(bs *v1alpha1.BrowserSession, attempt, clusterID string) map[string]any {
	md := make(map[string]any, len(bs.Spec.Metadata)+1)
	for k, v := range bs.Spec.Metadata {
		md[k] = v
	}
	md[v1alpha1.ReservedMetadataKey] = map[string]any{
		"uid":       string(bs.UID),
		"namespace": bs.Namespace,
		"name":      bs.Name,
		"attempt":   attempt,
	}
	if clusterID != "" {
		md[v1alpha1.ReservedMetadataKey].(map[string]any)["cluster"] = clusterID
	}
	return md
}

// jsonLength is the length Browserbase measures: JavaScript's JSON.stringify(...).length, which
// counts UTF-16 code units and does not escape <, > and & as Go does by default.
func jsonLength(v any) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return 0
	}
	return len(utf16.Encode([]rune(string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))))))
}

func browserSettings(in *v1alpha1.BrowserSettings) *browserbase.BrowserSettings {
	if in == nil {
		return nil
	}
	out := &browserbase.BrowserSettings{
		BlockAds:                in.BlockAds,
		SolveCaptchas:           in.SolveCaptchas,
		RecordSession:           in.RecordSession,
		LogSession:              in.LogSession,
		AdvancedStealth:         in.AdvancedStealth,
		OS:                      string(in.OS),
		AllowedDomains:          in.AllowedDomains,
		IgnoreCertificateErrors: in.IgnoreCertificateErrors,
	}
	if v := in.Viewport; v != nil {
		out.Viewport = &browserbase.Viewport{Width: v.Width, Height: v.Height}
	}
	return out
}

// withProjectDefaults is spec with the project's defaults in the fields it leaves empty. A
// session's own value always wins; browserSettings are taken whole or not at all, so that a
// session's settings are never a mix it did not write.
func withProjectDefaults(spec v1alpha1.BrowserSessionSpec, proj *project.Entry) v1alpha1.BrowserSessionSpec {
	if proj == nil {
		return spec
	}
	if spec.ProjectID == "" {
		spec.ProjectID = proj.ProjectID
	}
	d := proj.Defaults
	if d == nil {
		return spec
	}
	if spec.Region == "" {
		spec.Region = d.Region
	}
	if spec.Timeout == nil {
		spec.Timeout = d.Timeout
	}
	if spec.KeepAlive == nil {
		spec.KeepAlive = d.KeepAlive
	}
	if spec.BrowserSettings == nil {
		spec.BrowserSettings = d.BrowserSettings
	}
	return spec
}
