package emulator

import (
	"net/http"
	"testing"
	"time"
)

func TestExpireSession(t *testing.T) {
	f := newFixture(t, Project{}, true)
	id := f.create(t, testKey, nil)["id"].(string)
	f.clk.Advance(30 * time.Second)
	expiredAt := f.clk.Now()

	if !f.emu.ExpireSession(id) {
		t.Fatal("ExpireSession() = false for an existing session")
	}
	if f.emu.ExpireSession("no-such-session") {
		t.Error("ExpireSession() = true for an unknown session")
	}

	s, ok := f.emu.Session(id)
	if !ok || s.Status != "TIMED_OUT" || s.EndedAt == nil || !s.EndedAt.Equal(expiredAt) {
		t.Errorf("Session() = %s endedAt %v (found %t), want TIMED_OUT at %v", s.Status, s.EndedAt, ok, expiredAt)
	}
	_, data := f.call(t, http.MethodGet, "/v1/sessions/"+id, testKey, nil)
	got := object(t, data)
	if got["status"] != "TIMED_OUT" || !parseTime(t, got["endedAt"]).Equal(expiredAt) {
		t.Errorf("get: status %v endedAt %v, want TIMED_OUT at %v", got["status"], got["endedAt"], expiredAt)
	}
	// A release of a timed-out session is accepted and leaves it timed out.
	_, data = f.release(t, testKey, id)
	if got := object(t, data); got["status"] != "TIMED_OUT" {
		t.Errorf("release of a timed-out session: status %v, want TIMED_OUT", got["status"])
	}
}
