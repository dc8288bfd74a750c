// Package browsersessiontemplate holds the BrowserSessionTemplate reconciler. A template makes
// nothing itself: the Pod controller (internal/controller/podsession) makes a BrowserSession from
// it for each Pod that names it, and the admission webhook injects the session's Secret into the
// Pod. This reconciler reports on it: Ready once the operator has seen the template, and how many
// of its sessions are ready, pending and failed. Reconcile (controller.go) is the table of
// contents; each step lives in the file named after it, its tests in <file>_test.go (Reconcile's
// in count_test.go; the envtest specs, where the counts follow Pods' sessions, are podsession's):
//
//   - controller.go: the Reconciler and Reconcile.
//   - count.go: the template's sessions by state, from the BrowserSessions labelled with it.
//   - watch.go: SetupWithManager: a template is looked at again when it changes, and when one of
//     its sessions comes, goes or changes state.
//
// Status is written only when it changed (reconcile.Kit.FinalizeStatus), so sessions that change
// without changing the counts cost no write.
package browsersessiontemplate
