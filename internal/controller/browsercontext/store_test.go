package browsercontext

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/browserbase/session-operator/internal/browserbase"
	"github.com/browserbase/session-operator/internal/browserbase/browserbasetest"
)

// contextStore backs a browserbasetest.ContextClient with contexts by id.
type contextStore struct {
	mu       sync.Mutex
	next     int
	contexts map[string]*browserbase.Context
}

func newContextStore(ids ...string) *contextStore {
	s := &contextStore{contexts: map[string]*browserbase.Context{}}
	for _, id := range ids {
		s.contexts[id] = &browserbase.Context{ID: id, CreatedAt: testNow.Add(-time.Hour), ProjectID: "proj-default"}
	}
	return s
}

func (s *contextStore) has(id string) bool { return s.find(id) != nil }

// find is a copy of the context with id, nil when there is none.
func (s *contextStore) find(id string) *browserbase.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.contexts[id]; c != nil {
		cp := *c
		return &cp
	}
	return nil
}

// client returns a fake whose create, get and delete use the store.
func (s *contextStore) client() *browserbasetest.ContextClient {
	return &browserbasetest.ContextClient{CreateContextFn: s.create, GetContextFn: s.get, DeleteContextFn: s.delete}
}

// create makes a context as Browserbase answers it: with the upload URL, without the rest.
func (s *contextStore) create(context.Context, browserbase.Sensitive, string) (*browserbase.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	c := &browserbase.Context{ID: fmt.Sprintf("ctx%04d-secret-id-0000", s.next), CreatedAt: testNow, ProjectID: "proj-default"}
	s.contexts[c.ID] = c
	return &browserbase.Context{ID: c.ID, UploadURL: "https://upload.example/" + browserbase.Sensitive(c.ID)}, nil
}

func (s *contextStore) get(_ context.Context, _ browserbase.Sensitive, id string) (*browserbase.Context, error) {
	if c := s.find(id); c != nil {
		return c, nil
	}
	return nil, browserbasetest.ContextNotFound("GET", id)
}

func (s *contextStore) delete(_ context.Context, _ browserbase.Sensitive, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contexts[id] == nil {
		return browserbasetest.ContextNotFound("DELETE", id)
	}
	delete(s.contexts, id)
	return nil
}
