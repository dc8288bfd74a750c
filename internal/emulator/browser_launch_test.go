package emulator

import (
	"sync"
	"testing"
)

// standInBrowser is a started browser without a process, whose DevTools are at addr (a test
// server, or a closed port), for tests of the front door and of the browser cap that need no
// Chromium. It has "exited" once exit is called (at the latest when the test ends), so until
// then stopping it never completes.
func standInBrowser(t *testing.T, addr string) (b *browser, exit func()) {
	t.Helper()
	b = &browser{ready: make(chan struct{}), exited: make(chan struct{}), addr: addr, wsURL: "ws://" + addr + "/devtools/browser/stand-in"}
	close(b.ready)
	var once sync.Once
	exit = func() { once.Do(func() { close(b.exited) }) }
	t.Cleanup(exit)
	return b, exit
}

// setBrowser makes b the browser of session id.
func setBrowser(f *fixture, id string, b *browser) {
	f.emu.mu.Lock()
	defer f.emu.mu.Unlock()
	b.sessionID = id
	f.emu.browsers[id] = b
}
