package emulator

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/http"
)

// What the front door watches on a CDP connection it proxies: whether the websocket upgrade
// succeeded (only the disconnect of an upgraded client can end a session), and whether the
// client sends Browser.close (Puppeteer's browser.close()). The browser answers Browser.close
// some hundred milliseconds before its process exits; the session ends when the command is
// seen, before the browser gets it, so a client that reconnects once the answer is in is told
// 410 and never reaches the dying browser.

// upgradeWatcher is the ResponseWriter the CDP proxy writes to. httputil.ReverseProxy hijacks
// the client's connection once the browser has accepted the upgrade; the watcher notes that,
// and hands the proxy the connection wrapped in a cdpConn.
type upgradeWatcher struct {
	http.ResponseWriter
	upgraded       bool
	onBrowserClose func()
}

func (u *upgradeWatcher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(u.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	u.upgraded = true
	return &cdpConn{Conn: conn, onBrowserClose: u.onBrowserClose}, brw, nil
}

// Unwrap lets http.ResponseController reach the server's writer (to flush).
func (u *upgradeWatcher) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// cdpConn is the client's side of an upgraded CDP connection. The proxy copies what it reads to
// the browser; Read scans it first and calls onBrowserClose (once) before a Browser.close
// command is passed on.
type cdpConn struct {
	net.Conn
	scan           frameScanner
	onBrowserClose func()
	closing        bool
}

func (c *cdpConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.closing && c.scan.feed(p[:n]) {
		c.closing = true
		c.onBrowserClose()
	}
	return n, err
}

// maxScannedMessage bounds the messages frameScanner reads: a Browser.close command is a few
// dozen bytes, and larger frames are passed over without being kept.
const maxScannedMessage = 1 << 10

// frameScanner follows the websocket frames a client sends (RFC 6455 §5.2: masked) and reports a
// Browser.close command sent to the browser itself (no sessionId). It reads only single-frame,
// uncompressed text messages, which is how CDP clients send commands; the front door refuses
// compression (Sec-WebSocket-Extensions) so that frames stay readable.
type frameScanner struct {
	header    []byte // of the frame being read, until complete
	remaining uint64 // payload bytes of the frame still to come
	mask      [4]byte
	offset    uint64 // payload bytes read so far
	keep      bool   // the payload is kept: a small, final, uncompressed text frame
	payload   []byte
}

// feed scans the next bytes of the stream and says whether they complete a Browser.close.
func (f *frameScanner) feed(p []byte) bool {
	found := false
	for len(p) > 0 {
		if f.remaining == 0 && !f.headerDone() {
			f.header = append(f.header, p[0])
			p = p[1:]
			if f.headerDone() {
				f.startPayload()
				if f.remaining == 0 {
					found = f.endFrame() || found
				}
			}
			continue
		}
		n := min(uint64(len(p)), f.remaining)
		if f.keep {
			for _, b := range p[:n] {
				f.payload = append(f.payload, b^f.mask[f.offset%4])
				f.offset++
			}
		}
		f.remaining -= n
		p = p[n:]
		if f.remaining == 0 {
			found = f.endFrame() || found
		}
	}
	return found
}

// headerLen is the length of the frame header in f.header, or 0 while it is not known yet.
func (f *frameScanner) headerLen() int {
	if len(f.header) < 2 {
		return 0
	}
	n := 2
	switch f.header[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if f.header[1]&0x80 != 0 {
		n += 4
	}
	return n
}

func (f *frameScanner) headerDone() bool {
	n := f.headerLen()
	return n > 0 && len(f.header) == n
}

// startPayload reads the complete header: the payload's length and mask, and whether to keep it.
func (f *frameScanner) startPayload() {
	h := f.header
	length, rest := uint64(h[1]&0x7f), h[2:]
	switch length {
	case 126:
		length, rest = uint64(binary.BigEndian.Uint16(rest)), rest[2:]
	case 127:
		length, rest = binary.BigEndian.Uint64(rest), rest[8:]
	}
	f.mask = [4]byte{}
	if h[1]&0x80 != 0 {
		copy(f.mask[:], rest)
	}
	const fin, rsv, opText = 0x80, 0x70, 0x1
	f.keep = h[0]&fin != 0 && h[0]&rsv == 0 && h[0]&0x0f == opText && length <= maxScannedMessage
	f.remaining, f.offset, f.payload = length, 0, f.payload[:0]
}

// endFrame finishes a frame and says whether it was a Browser.close command.
func (f *frameScanner) endFrame() bool {
	kept := f.keep
	f.header, f.keep = f.header[:0], false
	if !kept {
		return false
	}
	var msg struct {
		Method    string `json:"method"`
		SessionID string `json:"sessionId"`
	}
	return json.Unmarshal(f.payload, &msg) == nil && msg.Method == "Browser.close" && msg.SessionID == ""
}
