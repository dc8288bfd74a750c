// Package certs keeps the admission webhook's serving certificate without cert-manager: the
// operator is its own certificate authority, as open-policy-agent/cert-controller does.
//
//   - issue.go: the certificates and their renewal rule, pure functions of the Secret's data and
//     the time. A self-signed CA (ECDSA P-256, 10 years) signs the serving certificate (1 year)
//     for the webhook Service's DNS names. Either is renewed when less than a third of its
//     lifetime is left (so after about 6.7 years and 8 months), or when it is missing, unreadable
//     or, for the serving certificate, not for the Service's names or not signed by the CA. A
//     renewed CA's predecessor stays in ca.crt (the caBundle) until it expires, so replicas still
//     serving the old certificate are trusted until they pick up the new one.
//   - rotator.go: Rotator, a manager.Runnable that every replica runs (no leader election: every
//     replica serves the webhook). At start, then every hour, it makes or renews the Secret
//     (ca.crt, ca.key, tls.crt, tls.key; replicas agree through optimistic locking), puts ca.crt
//     in the caBundle of each webhook of the MutatingWebhookConfiguration, and writes tls.crt and
//     tls.key to the webhook server's certificate directory, where controller-runtime's
//     certwatcher picks them up without a restart.
//   - server.go: WaitForCertificates, the webhook server started only once the files are there.
//
// With cert-manager instead (config/certmanager, the chart's webhook.certManager.enabled), the
// manager runs with --webhook-manage-certs=false and none of this is used.
package certs
