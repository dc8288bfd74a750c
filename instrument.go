package main

import (
	"context"
	"strconv"
	"time"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/metrics"
)

// instrumentContexts counts and times context calls in the metrics session calls go to
// (browserbase_api_requests_total, browserbase_api_request_duration_seconds), under endpoints of
// their own: context_create, context_get and context_delete.
//
// It belongs beside metrics.InstrumentClient; it is here until internal/metrics grows it.
func instrumentContexts(c browserbase.ContextClient) browserbase.ContextClient {
	return instrumentedContexts{c}
}

type instrumentedContexts struct{ next browserbase.ContextClient }

func (i instrumentedContexts) CreateContext(ctx context.Context, key browserbase.Sensitive, projectID string) (*browserbase.Context, error) {
	start := time.Now()
	c, err := i.next.CreateContext(ctx, key, projectID)
	observeCall("context_create", start, err, 201)
	return c, err
}

func (i instrumentedContexts) GetContext(ctx context.Context, key browserbase.Sensitive, id string) (*browserbase.Context, error) {
	start := time.Now()
	c, err := i.next.GetContext(ctx, key, id)
	observeCall("context_get", start, err, 200)
	return c, err
}

func (i instrumentedContexts) DeleteContext(ctx context.Context, key browserbase.Sensitive, id string) error {
	start := time.Now()
	err := i.next.DeleteContext(ctx, key, id)
	observeCall("context_delete", start, err, 204)
	return err
}

// observeCall records one call as metrics.InstrumentClient does: by the HTTP status of an
// error's answer, "error" when none came, and ok when the call succeeded.
func observeCall(endpoint string, start time.Time, err error, ok int) {
	code := strconv.Itoa(ok)
	if err != nil {
		code = "error"
		if status := browserbase.StatusCode(err); status != 0 {
			code = strconv.Itoa(status)
		}
	}
	metrics.APIRequests.WithLabelValues(endpoint, code).Inc()
	metrics.APIRequestDuration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
}
