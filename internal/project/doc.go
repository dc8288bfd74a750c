// Package project is what the BrowserbaseProject and ClusterBrowserbaseProject kinds give the
// controllers that use them: the Registry the project controller fills from each project object
// (its key, read from the watched Secret, its defaults and limits), and the Resolver that tells a
// BrowserSession which key, defaults and queue it uses. Keys stay in memory, never in status.
package project
