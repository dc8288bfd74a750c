package certs

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// WaitForCertificates returns srv, started only once r has written the certificate files: the
// manager starts webhook servers before any other runnable, and controller-runtime's server
// fails at start when its files are missing.
func WaitForCertificates(srv webhook.Server, r *Rotator) webhook.Server {
	return &waitingServer{Server: srv, rotator: r}
}

type waitingServer struct {
	webhook.Server
	rotator *Rotator
}

func (s *waitingServer) Start(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-s.rotator.Ready():
		return s.Server.Start(ctx)
	}
}
