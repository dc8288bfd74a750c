package emulator

import (
	"encoding/binary"
	"strings"
	"testing"
)

// clientFrame encodes a websocket frame as a client sends it: masked.
func clientFrame(first byte, payload string) []byte {
	frame := []byte{first}
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n <= 0xffff:
		frame = append(frame, 0x80|126)
		frame = binary.BigEndian.AppendUint16(frame, uint16(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	frame = append(frame, mask[:]...)
	for i := range len(payload) {
		frame = append(frame, payload[i]^mask[i%4])
	}
	return frame
}

const (
	finText         = 0x81
	browserCloseCmd = `{"id":7,"method":"Browser.close"}`
)

func TestFrameScannerFindsBrowserClose(t *testing.T) {
	join := func(frames ...[]byte) []byte {
		var out []byte
		for _, f := range frames {
			out = append(out, f...)
		}
		return out
	}
	big := `{"id":1,"method":"Runtime.evaluate","params":{"expression":"` + strings.Repeat("x", 70000) + `"}}`
	tests := []struct {
		name   string
		stream []byte
		want   bool
	}{
		{"Browser.close", clientFrame(finText, browserCloseCmd), true},
		{"with params and spaces", clientFrame(finText, `{ "id": 3, "method": "Browser.close", "params": {} }`), true},
		{"after other commands", join(
			clientFrame(finText, `{"id":1,"method":"Target.getTargets"}`),
			clientFrame(finText, big),
			clientFrame(0x89, ""), // ping
			clientFrame(finText, browserCloseCmd)), true},
		{"another command", clientFrame(finText, `{"id":1,"method":"Browser.getVersion"}`), false},
		{"to a page session", clientFrame(finText, `{"id":1,"method":"Browser.close","sessionId":"ABC"}`), false},
		{"inside a string", clientFrame(finText, `{"id":1,"method":"Runtime.evaluate","params":{"expression":"Browser.close"}}`), false},
		{"compressed (RSV1)", clientFrame(0xc1, browserCloseCmd), false},
		{"a fragment", clientFrame(0x01, browserCloseCmd), false},
		{"binary", clientFrame(0x82, browserCloseCmd), false},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 3, len(tt.stream)} {
			var f frameScanner
			got := false
			for rest := tt.stream; len(rest) > 0; {
				n := min(chunk, len(rest))
				got = f.feed(rest[:n]) || got
				rest = rest[n:]
			}
			if got != tt.want {
				t.Errorf("%s, read %d bytes at a time: found %t, want %t", tt.name, chunk, got, tt.want)
			}
		}
	}
}
