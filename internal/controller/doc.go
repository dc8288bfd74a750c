// Package controller holds the BrowserSession reconciler. Reconcile is the table of contents;
// each step lives in a file named after it: credentials, request (the create body), session
// (create and observe), secret, delete, and outcome (how an error becomes conditions and a
// requeue).
package controller
