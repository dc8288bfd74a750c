package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssSampler follows a process's resident memory, ten times a second.
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	max  int64
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.current()
			}
		}
	}()
	return s
}

// current reads the process's RSS now, counting it towards the peak.
func (s *rssSampler) current() int64 {
	rss := processRSS(s.pid)
	s.mu.Lock()
	s.max = max(s.max, rss)
	s.mu.Unlock()
	return rss
}

// peak returns the highest RSS since the last call, and starts a new window.
func (s *rssSampler) peak() int64 {
	now := processRSS(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	peak := max(s.max, now)
	s.max = now
	return peak
}

func (s *rssSampler) stop() { close(s.done) }

// processCPU returns a process's CPU seconds, user and system.
func processCPU(pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat)[i+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// hostCPU returns the CPU seconds every process on the machine has used (busy, not idle).
func hostCPU() float64 {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal
	busy := 0.0
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100
}

// processRSS returns a process's resident memory in bytes.
func processRSS(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}
