// Package browserbaseproject reconciles BrowserbaseProjects and ClusterBrowserbaseProjects: it
// reads each project's API key from its Secret (watched, so a new key takes effect within
// seconds), checks it against Browserbase (GET /v1/projects/{id}), records the plan's limits,
// publishes the project to the registry and the create queue the BrowserSession controller uses,
// and reports the queue's state. A project is kept while sessions name it: deleting it would
// leave them without a key to release their sessions with.
//
// Files: controller.go (Reconcile, setup), object.go (the two kinds behind one view), check.go
// (key, base URL, the project as Browserbase reports it), publish.go (limits, registry, status
// counts), delete.go, secretwatch.go (one metadata watch per named Secret).
package browserbaseproject
