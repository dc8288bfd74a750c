// Package podinjector is the mutating admission webhook that gives a Pod labelled
// browserbase.io/session-template=<template> its Browserbase session's credentials.
//
// At Pod CREATE (a generateName Pod has no name yet) it reads the BrowserSessionTemplate from the
// API server, picks the name of the Pod's Secret, <template>-<5 random characters>, records it in
// the annotation browserbase.io/session-secret, and wires the Secret into the Pod as
// spec.injection says: environment variables (secretKeyRef) and a read-only Secret volume. The
// Secret itself is written later by the Pod controller; the kubelet waits for it.
//
//   - injector.go: Injector, the admission.Handler: decoding, the template read, refusals, the
//     JSON patch.
//   - mutate.go: what is added to the Pod, a pure function of the Pod, the template's injection
//     and the Secret's name. It adds nothing that is already there, so a reinvocation
//     (reinvocationPolicy IfNeeded) patches nothing.
//   - names.go: the Secret's name.
//
// The webhook writes nothing outside the Pod, so dry-run requests need no special path
// (sideEffects None). Its configuration is config/webhook/manifests.yaml (and the chart's
// webhook.yaml); its serving certificate comes from internal/certs or cert-manager.
package podinjector
