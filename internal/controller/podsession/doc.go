// Package podsession holds the Pod reconciler: it gives each Pod that opts in (label
// browserbase.io/session-template=<template>, and the annotation browserbase.io/session-secret
// that the admission webhook sets) a BrowserSession of its own, made from the template, and
// deletes it when the Pod ends. The BrowserSession controller does the rest: it creates the
// Browserbase session, writes the Secret the Pod reads, and releases the session on delete.
// Reconcile (controller.go) is the table of contents; each step lives in the file named after
// it, its tests in <file>_test.go (the envtest specs in controller_test.go):
//
//   - controller.go: the Reconciler and Reconcile.
//   - stale.go: the BrowserSessions made for a Pod name that no longer serve a running Pod
//     (the Pod succeeded, failed, is being deleted or is gone, or was re-created under the same
//     name), and their deletion.
//   - session.go: the BrowserSession of a running Pod, made once from the template (after the
//     Secret of an earlier Pod's session of the same name is gone).
//   - watch.go: SetupWithManager: what triggers a reconcile (Pod changes that matter, a Pod's
//     BrowserSession deleted or changed by someone else, a template that appears), and the
//     index of BrowserSessions by the Pod that owns them.
//
// # Why the operator deletes, not the garbage collector
//
// Each BrowserSession has an owner reference to its Pod, so a cluster's garbage collector
// deletes it with the Pod. The operator deletes it itself, at once: a Pod that succeeded or
// failed is kept by Kubernetes (a Job's Pods, for example) while its session would hold a
// concurrency slot and bill browser time, and control planes without kube-controller-manager
// (envtest, a bare API server) run no garbage collector at all.
//
// A Pod's BrowserSessions are found through an index of their owner references, by Pod name:
// the request of a Pod that is gone names it and nothing more, and a Pod name can be longer than
// a label value may be (the browserbase.io/pod-name label is set only when it fits). The
// browserbase.io/pod-uid label then tells the running Pod's session from one left by an earlier
// Pod of the same name.
//
// # What the operator never does
//
// It never writes a Pod (it may only read them), never updates a BrowserSession it made (a
// template's changes reach the Pods created after them, as a Deployment's do), and never deletes
// a BrowserSession it did not make for that Pod name: one that holds the annotated name without
// the Pod's labels is reported on the Pod (SessionNameTaken) and left alone.
package podsession
