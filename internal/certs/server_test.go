package certs

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// startRecorder is a webhook.Server whose Start closes started.
type startRecorder struct {
	webhook.Server
	started chan struct{}
}

var _ webhook.Server = startRecorder{}

func (s startRecorder) Start(ctx context.Context) error {
	close(s.started)
	<-ctx.Done()
	return nil
}
